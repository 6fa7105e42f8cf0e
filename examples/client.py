"""Price a cart over gRPC: the Python counterpart of `promo eval RULES CART --json`.

    make run &                                   # promo serve examples/double11 on port 50051
    python examples/client.py [CART.json] [--target localhost:50051]

The cart JSON is the EvaluateRequest's proto3 JSON form (docs/service.md), so ParseDict reads it
as it is; the answer is printed in the same JSON form `promo eval --json` prints. The default
cart, examples/double11/nuts-cart.json, pays 180.00 under double11.

Any Python runs it: one without grpcio (outside the project's virtual environment) hands over
to the checkout's .venv/bin/python, which `make run` and `make test` create.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE.parent / ".venv"

try:
    import grpc
    from google.protobuf import json_format
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status
except ModuleNotFoundError:
    venv_python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve() or not venv_python.exists():
        sys.exit("examples/client.py needs grpcio: run `make run` (or `make test`) once to create .venv/")
    os.execv(venv_python, [str(venv_python), __file__, *sys.argv[1:]])

sys.path.insert(0, str(HERE.parent))  # run from a checkout
from server.gen.promo.v1 import promo_pb2, promo_pb2_grpc  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cart", nargs="?", default=str(HERE / "double11" / "nuts-cart.json"))
    parser.add_argument("--target", default="localhost:50051")
    args = parser.parse_args()

    request = json_format.ParseDict(json.loads(Path(args.cart).read_text(encoding="utf-8")),
                                    promo_pb2.EvaluateRequest())
    with grpc.insecure_channel(args.target) as channel:
        stub = promo_pb2_grpc.PromotionServiceStub(channel)
        try:
            response = stub.Evaluate(request, timeout=5.0, metadata=[("x-request-id", uuid.uuid4().hex)])
        except grpc.RpcError as err:
            print(f"{err.code().name}: {err.details()}", file=sys.stderr)
            status = rpc_status.from_call(err)  # field violations of a bad request, if any
            for detail in status.details if status else ():
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    for v in bad.field_violations:
                        print(f"  {v.field}: {v.description}", file=sys.stderr)
            return 1
    answer = json_format.MessageToDict(response, preserving_proto_field_name=True,
                                       always_print_fields_with_no_presence=True)
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
