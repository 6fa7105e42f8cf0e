"""Price a cart over gRPC: the Python counterpart of `promo eval RULES CART --json`.

    promo serve examples/seed/parallel --port 50051 &
    .venv/bin/python examples/client.py [CART.json] [--target localhost:50051]

The cart JSON is the EvaluateRequest's proto3 JSON form (docs/service.md), so ParseDict reads it
as it is; the answer is printed in the same JSON form `promo eval --json` prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from server.gen.promo.v1 import promo_pb2, promo_pb2_grpc  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cart", nargs="?", default=str(HERE / "seed" / "parallel" / "cart.json"))
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
