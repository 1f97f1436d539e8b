import Testing

@testable import OCI

let hexA = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5"

@Suite("Image references, normalised as go-containerregistry does")
struct ImageReferenceTests {
    @Test(
        "names normalise to registry/repository",
        arguments: [
            ("busybox", "index.docker.io/library/busybox", nil as String?),
            ("docker.io/busybox", "index.docker.io/library/busybox", nil),
            ("index.docker.io/library/busybox:1.36", "index.docker.io/library/busybox", "1.36"),
            ("team/app", "index.docker.io/team/app", nil),
            ("gcr.io/foo/bar:v1", "gcr.io/foo/bar", "v1"),
            ("localhost:5000/foo/bar", "localhost:5000/foo/bar", nil),
            ("127.0.0.1:5000/app:latest", "127.0.0.1:5000/app", "latest"),
            ("localhost/foo", "index.docker.io/localhost/foo", nil),  // no '.' or ':' → Docker Hub, as ggcr does
            ("registry.example.com/a/b/c", "registry.example.com/a/b/c", nil),
            ("localhost:5000/foo:v2", "localhost:5000/foo", "v2"),  // the last ':' is the tag's, not the port's
            ("localhost:5000/a/b", "localhost:5000/a/b", nil),  // a port and no tag
        ])
    func normalise(input: String, name: String, tag: String?) throws {
        let ref = try ImageReference(parsing: input)
        #expect(ref.name == name)
        #expect(ref.tag == tag)
    }

    @Test(
        "references without a digest: what is not a tag, and the reasons for what does not parse",
        arguments: [
            ("localhost:5000/team:x/app", "may contain only lowercase"),  // a ':' followed by a '/' is no tag
            ("gcr.io/foo:bad tag", "tag \"bad tag\" must match"),
            ("gcr.io/a//b:v1", "empty path component"),
            ("gcr.io/a/:v1", "empty path component"),
            ("a@b@c", "at most one '@'"),
            ("gcr.io/foo@sha256:\(hexA)x", "64 lowercase hex"),
            ("éé.example/x/y", "not a valid host[:port]"),
            ("gcr.io/café", "only lowercase letters"),
            (":v1", "a repository name must be given"),
        ])
    func invalidWithoutDigest(input: String, fragment: String) {
        #expect {
            _ = try ImageReference(parsing: input)
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test("a tag before a digest is dropped")
    func tagDropped() throws {
        let ref = try ImageReference(parsingDigest: "gcr.io/foo/bar:v1@sha256:\(hexA)")
        #expect(ref.description == "gcr.io/foo/bar@sha256:\(hexA)")
        #expect(ref.tag == nil)
        #expect(ref.digest?.tagForm == "sha256-\(hexA)")
    }

    @Test(
        "invalid references are rejected with the reason",
        arguments: [
            ("gcr.io/Foo/bar@sha256:\(hexA)", "lowercase"),
            ("gcr.io/foo/bar@sha512:\(hexA)", "unsupported digest algorithm"),
            ("gcr.io/foo/bar@sha256:\(hexA.uppercased())", "64 lowercase hex"),
            ("gcr.io/foo/bar@sha256:abc", "64 lowercase hex"),
            ("gcr.io/foo/bar", "exactly one '@'"),
            ("a@sha256:\(hexA)@sha256:\(hexA)", "exactly one '@'"),
            ("https://gcr.io/foo@sha256:\(hexA)", "empty path component"),
            ("gcr.io:https/foo@sha256:\(hexA)", "not a valid host[:port]"),
            ("gcr.io/x@sha256:\(hexA)", "2 to 255"),
            ("gcr.io/foo:bad tag", "tag"),
        ])
    func invalid(input: String, fragment: String) {
        #expect {
            _ = try ImageReference(parsingDigest: input)
        } throws: { error in
            "\(error)".contains(fragment) && "\(error)".contains(input)
        }
    }

    @Test("sha256 of bytes is lowercase hex")
    func sha256() {
        #expect(
            Digest.sha256(of: Array("".utf8)).description
                == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
