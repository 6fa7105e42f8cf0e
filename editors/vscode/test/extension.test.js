// extension.js against stand-ins for `vscode` and `vscode-languageclient/node` (VS Code itself is
// not needed): it starts `promo lsp` over stdio for .promo documents, honours `promo.serverPath`,
// restarts when the setting changes, stops on deactivate and says what to do when the server
// cannot start. Run by tests/test_editor_grammar.py: `node test/extension.test.js`.
'use strict';

const assert = require('node:assert/strict');
const Module = require('node:module');
const path = require('node:path');

const root = path.join(__dirname, '..');
// the real client library is installed where extension.js requires it from
require.resolve('vscode-languageclient/node', { paths: [root] });

const world = { settings: {}, folders: undefined, errors: [], commands: {}, listeners: [], clients: [] };
let failStart = false;

class FakeClient {
  constructor(id, name, serverOptions, clientOptions) {
    Object.assign(this, { id, name, serverOptions, clientOptions, started: 0, stopped: 0 });
    world.clients.push(this);
  }
  async start() {
    this.started += 1;
    if (failStart) throw new Error('spawn promo ENOENT');
  }
  async stop() {
    this.stopped += 1;
  }
}

const vscode = {
  workspace: {
    getConfiguration: (section) => ({ get: (key) => world.settings[`${section}.${key}`] }),
    get workspaceFolders() {
      return world.folders;
    },
    createFileSystemWatcher: (glob) => ({ glob }),
    onDidChangeConfiguration: (listener) => {
      world.listeners.push(listener);
      return { dispose() {} };
    },
  },
  window: { showErrorMessage: (message) => world.errors.push(message) },
  commands: {
    registerCommand: (name, handler) => {
      world.commands[name] = handler;
      return { dispose() {} };
    },
  },
};
const client = { LanguageClient: FakeClient, TransportKind: { stdio: 0, ipc: 1, pipe: 2, socket: 3 } };

const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') return vscode;
  if (request === 'vscode-languageclient/node') return client;
  return load.call(this, request, parent, isMain);
};
const extension = require(path.join(root, 'extension.js'));
const packageJson = require(path.join(root, 'package.json'));

function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

async function main() {
  const context = { subscriptions: [] };

  // the default: `promo lsp` from PATH, over stdio, for promo documents
  world.settings['promo.serverPath'] = packageJson.contributes.configuration.properties['promo.serverPath'].default;
  await extension.activate(context);
  assert.equal(world.clients.length, 1);
  const first = world.clients[0];
  assert.equal(first.id, 'promo');
  assert.deepEqual(first.serverOptions, { command: 'promo', args: ['lsp'], transport: client.TransportKind.stdio });
  assert.deepEqual(
    first.clientOptions.documentSelector.map((s) => s.language),
    ['promo', 'promo']
  );
  assert.equal(first.clientOptions.synchronize.fileEvents.glob, '**/*.promo');
  assert.equal(first.started, 1);
  assert.ok(context.subscriptions.length >= 2);
  assert.ok(world.commands['promo.restartServer'], 'the restart command is registered');
  assert.ok(packageJson.contributes.commands.some((c) => c.command === 'promo.restartServer'));

  // a relative serverPath is taken from the first workspace folder; changing it restarts
  world.folders = [{ uri: { fsPath: '/work/shop-rules' } }];
  world.settings['promo.serverPath'] = '.venv/bin/promo';
  world.listeners.forEach((l) => l({ affectsConfiguration: (s) => s === 'promo.serverPath' }));
  await settle();
  assert.equal(first.stopped, 1);
  assert.equal(world.clients.length, 2);
  assert.equal(world.clients[1].serverOptions.command, path.join('/work/shop-rules', '.venv/bin/promo'));

  // other settings do not restart it; absolute paths are kept
  world.listeners.forEach((l) => l({ affectsConfiguration: () => false }));
  await settle();
  assert.equal(world.clients.length, 2);
  world.settings['promo.serverPath'] = '/opt/promo/bin/promo';
  await world.commands['promo.restartServer']();
  assert.equal(world.clients[2].serverOptions.command, '/opt/promo/bin/promo');

  // a server that cannot start: one error message that names the setting
  failStart = true;
  await world.commands['promo.restartServer']();
  assert.equal(world.errors.length, 1);
  assert.match(world.errors[0], /promo\.serverPath/);
  assert.match(world.errors[0], /lsp/);

  // deactivate stops the running client
  failStart = false;
  await world.commands['promo.restartServer']();
  const last = world.clients[world.clients.length - 1];
  await extension.deactivate();
  assert.equal(last.stopped, 1);
  console.log(`extension.js: ${world.clients.length} clients started and stopped as expected`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
