"""Drive the in-process Kubernetes API server with the official Python client; print what happened as JSON.

usage: kube_client_check.py URL TOKEN NAMESPACE

Lists TaskRuns (custom objects) with paging, reads a Secret, creates a Lease twice (the second is a 409),
merge-patches a TaskRun's annotations, replaces the Lease with a stale resourceVersion (409), watches TaskRuns from
the list's resourceVersion and collects the events its own patch caused, asks for a missing object (404), and
watches from a version the server has forgotten (410, when the test compacted it).
"""
import json
import sys

from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def main() -> int:
    url, token, ns = sys.argv[1:4]
    config = client.Configuration()
    config.host = url
    config.api_key = {"authorization": "Bearer " + token}
    api = client.ApiClient(config)
    custom = client.CustomObjectsApi(api)
    core = client.CoreV1Api(api)
    coordination = client.CoordinationV1Api(api)
    out = {}

    first = custom.list_namespaced_custom_object("tekton.dev", "v1", ns, "taskruns", limit=2)
    names = [i["metadata"]["name"] for i in first["items"]]
    rest = custom.list_namespaced_custom_object(
        "tekton.dev", "v1", ns, "taskruns", limit=2, _continue=first["metadata"].get("continue"))
    names += [i["metadata"]["name"] for i in rest["items"]]
    out["listed"] = names
    out["list_rv"] = first["metadata"]["resourceVersion"]
    out["secret_type"] = core.read_namespaced_secret("push-creds", ns).type

    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="chains-bucket-0"),
                           spec=client.V1LeaseSpec(holder_identity="python", lease_duration_seconds=15))
    created = coordination.create_namespaced_lease(ns, lease)
    out["lease_rv"] = created.metadata.resource_version
    try:
        coordination.create_namespaced_lease(ns, lease)
        out["lease_again"] = "accepted"
    except ApiException as e:
        out["lease_again"] = [e.status, json.loads(e.body)["reason"]]
    created.metadata.resource_version = "1"
    created.spec.holder_identity = "someone-else"
    try:
        coordination.replace_namespaced_lease("chains-bucket-0", ns, created)
        out["stale_replace"] = "accepted"
    except ApiException as e:
        out["stale_replace"] = [e.status, json.loads(e.body)["reason"]]

    patched = custom.patch_namespaced_custom_object(
        "tekton.dev", "v1", ns, "taskruns", names[0],
        {"metadata": {"annotations": {"chains.tekton.dev/signed": "true"}}})
    out["patched_annotations"] = patched["metadata"]["annotations"]

    # Server-side apply: two managers, a finalizer each (a set: both kept), a map key in conflict, then forced.
    def apply(manager, metadata, force=False):
        body = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": dict(name=names[1], **metadata)}
        return custom.patch_namespaced_custom_object(
            "tekton.dev", "v1", ns, "taskruns", names[1], body, field_manager=manager, force=force,
            _content_type="application/apply-patch+yaml")
    apply("py-a", {"finalizers": ["example.com/a"], "annotations": {"example.com/owner": "a"}})
    both = apply("py-b", {"finalizers": ["example.com/b"]})
    out["apply_finalizers"] = both["metadata"]["finalizers"]
    out["apply_managers"] = sorted(m["manager"] + ":" + m["operation"] for m in both["metadata"]["managedFields"])
    try:
        apply("py-b", {"finalizers": ["example.com/b"], "annotations": {"example.com/owner": "b"}})
        out["apply_conflict"] = "accepted"
    except ApiException as e:
        out["apply_conflict"] = [e.status, json.loads(e.body)["reason"]]
    forced = apply("py-b", {"finalizers": ["example.com/b"], "annotations": {"example.com/owner": "b"}}, force=True)
    out["forced_owner"] = forced["metadata"]["annotations"]["example.com/owner"]
    released = apply("py-a", {"finalizers": []})
    out["released_finalizers"] = released["metadata"].get("finalizers")
    out["released_annotations"] = released["metadata"].get("annotations", {})

    events = []
    w = watch.Watch()
    for event in w.stream(custom.list_namespaced_custom_object, "tekton.dev", "v1", ns, "taskruns",
                          resource_version=out["list_rv"], timeout_seconds=2):
        events.append([event["type"], event["object"]["metadata"]["name"]])
    out["events"] = events

    try:
        custom.get_namespaced_custom_object("tekton.dev", "v1", ns, "taskruns", "missing")
    except ApiException as e:
        out["missing"] = [e.status, json.loads(e.body)["reason"]]

    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
