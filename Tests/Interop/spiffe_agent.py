"""A SPIFFE Workload API agent for tests, on grpcio with the stubs py-spiffe ships.

    spiffe_agent.py SOCKET TOKEN_FILE [--deny]

Serves /SpiffeWorkloadAPI/FetchJWTSVID on a Unix socket: requires the `workload.spiffe.io: true` metadata
(InvalidArgument "security header missing from request" otherwise, as SPIRE answers), requires an audience, and
answers with the JWT-SVID read from TOKEN_FILE (re-read per call). With --deny it answers PermissionDenied, as
SPIRE does for a workload without a registration entry. Prints "ready" once listening; logs each call's
audience and header to stderr.
"""
import signal
import sys
import time
from concurrent import futures

import grpc
from spiffe._proto import workload_pb2, workload_pb2_grpc


class Agent(workload_pb2_grpc.SpiffeWorkloadAPIServicer):
    def __init__(self, token_file, deny):
        self.token_file = token_file
        self.deny = deny

    def FetchJWTSVID(self, request, context):
        metadata = dict(context.invocation_metadata())
        print(f"FetchJWTSVID audience={list(request.audience)} header={metadata.get('workload.spiffe.io')}",
              file=sys.stderr, flush=True)
        if metadata.get("workload.spiffe.io") != "true":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")
        if self.deny:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "no identity issued")
        if not request.audience:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "audience must be specified")
        with open(self.token_file) as f:
            token = f.read().strip()
        svid = workload_pb2.JWTSVID(spiffe_id="spiffe://example.org/ns/tekton-chains/sa/tekton-chains-controller",
                                    svid=token)
        return workload_pb2.JWTSVIDResponse(svids=[svid])


def main():
    # A parent that blocks SIGTERM passes the mask on; stop when asked.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
    socket, token_file = sys.argv[1], sys.argv[2]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    workload_pb2_grpc.add_SpiffeWorkloadAPIServicer_to_server(Agent(token_file, "--deny" in sys.argv), server)
    server.add_insecure_port(f"unix://{socket}")
    server.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop(0)


if __name__ == "__main__":
    main()
