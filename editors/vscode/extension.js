// The promo extension: the language and its grammar come from package.json; this file starts the
// language server, `promo lsp`, over stdio. Plain JavaScript, no build step.
'use strict';

const path = require('path');
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

// `promo.serverPath`: a command on PATH (`promo`), an absolute path, or a path relative to the
// first workspace folder (`.venv/bin/promo`).
function serverCommand() {
  const configured = vscode.workspace.getConfiguration('promo').get('serverPath') || 'promo';
  const folders = vscode.workspace.workspaceFolders;
  if (path.isAbsolute(configured) || !configured.includes('/') || !folders || folders.length === 0) {
    return configured;
  }
  return path.join(folders[0].uri.fsPath, configured);
}

async function start() {
  const command = serverCommand();
  const serverOptions = { command, args: ['lsp'], transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'promo' },
      { scheme: 'untitled', language: 'promo' },
    ],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.promo') },
  };
  client = new LanguageClient('promo', 'promo language server', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `promo: could not start \`${command} lsp\` (${err && err.message ? err.message : err}). ` +
        'Install promo or set `promo.serverPath`.'
    );
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    try {
      await running.stop();
    } catch (err) {
      // a server that never started has nothing to stop
    }
  }
}

async function restart() {
  await stop();
  await start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('promo.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('promo.serverPath')) {
        restart();
      }
    })
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
