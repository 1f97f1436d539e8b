"""Exercise a Grafeas REST server with Google's own client (PyPI `grafeas`, GrafeasRestTransport), independently of
Chains in Swift: the notes and occurrences Tekton Chains writes, the list calls it reads with, paging, and the
error paths.

usage: grafeas_check.py BASE_URL TOKEN
Prints one line per check ("ok NAME" or "FAIL NAME: why") and exits 1 if any failed.
"""
import sys
from urllib.parse import urlparse

from google.api_core import exceptions
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from grafeas import grafeas_v1 as g
from grafeas.grafeas_v1.services.grafeas.transports import GrafeasRestTransport

url = urlparse(sys.argv[1])
token = sys.argv[2]


def client(credentials):
    transport = GrafeasRestTransport(host=url.netloc, url_scheme=url.scheme, credentials=credentials)
    return g.GrafeasClient(transport=transport)


c = client(Credentials(token))
parent = "projects/chains-test"
failures = 0


def check(name, condition, why=""):
    global failures
    print(("ok " if condition else "FAIL ") + name + ("" if condition else ": " + why))
    failures += 0 if condition else 1


def raises(name, kind, call):
    try:
        call()
        check(name, False, "no error")
    except kind:
        check(name, True)
    except Exception as e:  # noqa: BLE001 - any other error is a failed check
        check(name, False, f"{type(e).__name__}: {e}")


attestation_note = g.Note(
    short_description="OCI Artifact Attestation Note",
    attestation=g.AttestationNote(hint=g.AttestationNote.Hint(human_readable_name="made by chains")))
created = c.create_note(parent=parent, note_id="tekton-team-a-simplesigning", note=attestation_note)
check("create ATTESTATION note", created.name == parent + "/notes/tekton-team-a-simplesigning"
      and created.kind == g.NoteKind.ATTESTATION, str(created))
build_note = g.Note(short_description="Build Provenance Note for TaskRun",
                    build=g.BuildNote(builder_version="tekton.dev/v1/TaskRun"))
made = c.create_note(parent=parent, note_id="tekton-team-a-taskrun-intoto", note=build_note)
check("create BUILD note", made.kind == g.NoteKind.BUILD and made.create_time is not None, str(made))
raises("duplicate note is Conflict (409 ALREADY_EXISTS)", exceptions.Conflict,
       lambda: c.create_note(parent=parent, note_id="tekton-team-a-simplesigning", note=attestation_note))
got = c.get_note(name=parent + "/notes/tekton-team-a-simplesigning")
check("get note", got.attestation.hint.human_readable_name == "made by chains", str(got))

image = "registry.example.com/team-a/app@sha256:" + "c6" * 32
occ = c.create_occurrence(parent=parent, occurrence=g.Occurrence(
    resource_uri=image, note_name=parent + "/notes/tekton-team-a-simplesigning",
    attestation=g.AttestationOccurrence(serialized_payload=b'{"critical":{}}',
                                        signatures=[g.Signature(signature=b"sig", public_key_id="kms://k")]),
    envelope=g.Envelope(payload=b'{"critical":{}}', payload_type="application/vnd.dev.cosign.simplesigning.v1+json",
                        signatures=[g.EnvelopeSignature(sig=b"sig", keyid="kms://k")])))
check("create ATTESTATION occurrence", occ.kind == g.NoteKind.ATTESTATION and occ.name.startswith(parent + "/occurrences/")
      and occ.envelope.payload == b'{"critical":{}}', str(occ))
statement = g.InTotoStatement(
    subject=[g.Subject(name="registry.example.com/team-a/app", digest={"sha256": "c6" * 32})],
    predicate_type="https://slsa.dev/provenance/v0.2",
    slsa_provenance_zero_two=g.SlsaProvenanceZeroTwo(
        builder=g.SlsaProvenanceZeroTwo.SlsaBuilder(id="https://tekton.dev/chains/v2"), build_type="tekton.dev/v1/TaskRun"))
build = c.create_occurrence(parent=parent, occurrence=g.Occurrence(
    resource_uri=image, note_name=parent + "/notes/tekton-team-a-taskrun-intoto",
    build=g.BuildOccurrence(intoto_statement=statement),
    envelope=g.Envelope(payload=b"{}", payload_type="application/vnd.in-toto+json",
                        signatures=[g.EnvelopeSignature(sig=b"{}", keyid="")])))
check("create BUILD occurrence with an in-toto statement", build.kind == g.NoteKind.BUILD
      and build.build.intoto_statement.slsa_provenance_zero_two.build_type == "tekton.dev/v1/TaskRun", str(build))
other = c.create_occurrence(parent=parent, occurrence=g.Occurrence(
    resource_uri="registry.example.com/other@sha256:" + "ab" * 32, note_name=parent + "/notes/tekton-team-a-taskrun-intoto",
    build=g.BuildOccurrence(intoto_statement=statement)))

listed = list(c.list_note_occurrences(
    name=parent + "/notes/tekton-team-a-taskrun-intoto", filter=f'resourceUrl="{image}" OR resourceUrl="nothing"'))
check("list note occurrences by resourceUrl (Chains' retrieve)", [o.name for o in listed] == [build.name], str(listed))
both = list(c.list_occurrences(parent=parent, filter=f'resourceUrl="{image}" AND kind="BUILD"'))
check("list occurrences: resourceUrl AND kind", [o.name for o in both] == [build.name], str(both))
paged = list(c.list_occurrences(request={"parent": parent, "page_size": 1}))
check("paging, one at a time", [o.name for o in paged] == [occ.name, build.name, other.name], str([o.name for o in paged]))
raises("an occurrence of a missing note is NotFound", exceptions.NotFound, lambda: c.create_occurrence(
    parent=parent, occurrence=g.Occurrence(resource_uri=image, note_name=parent + "/notes/none",
                                           build=g.BuildOccurrence(intoto_statement=statement))))
raises("kind mismatch is BadRequest", exceptions.BadRequest, lambda: c.create_occurrence(
    parent=parent, occurrence=g.Occurrence(resource_uri=image, note_name=parent + "/notes/tekton-team-a-simplesigning",
                                           build=g.BuildOccurrence(intoto_statement=statement))))
raises("a bad filter is BadRequest", exceptions.BadRequest,
       lambda: list(c.list_occurrences(parent=parent, filter='color="red"')))
raises("a missing note is NotFound", exceptions.NotFound, lambda: c.get_note(name=parent + "/notes/none"))
# A wrong token is answered 401; the client then tries to refresh its credentials, which these cannot do.
raises("a wrong token is answered 401", (exceptions.Unauthorized, RefreshError),
       lambda: client(Credentials("wrong-token")).get_note(name=parent + "/notes/tekton-team-a-simplesigning"))
sys.exit(1 if failures else 0)
