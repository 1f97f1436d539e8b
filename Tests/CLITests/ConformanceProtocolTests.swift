import ChainsTesting
import Crypto
import Foundation
import Signing
import Testing

/// The sigstore-conformance suite's client protocol (`docs/cli_protocol.md`) on `chains`: `sign-bundle` through a
/// signing config naming Fulcio, a Rekor log (v2, then v1) and a timestamp authority, then `verify-bundle` — ours and
/// sigstore-python's verdicts on what was signed, for a file and for an in-toto statement.
extension CLITests {
    @Test(
        "sign-bundle and verify-bundle: Rekor v2 and v1 with a TSA, a file and an in-toto statement; sigstore-python agrees",
        arguments: [SigstoreStack.Log.v2, .v1])
    func conformanceProtocol(log: SigstoreStack.Log) async throws {
        let dir = try TemporaryDirectory()
        let stack = try await SigstoreStack(directory: dir, log: log)
        defer { Task { await stack.stop() } }
        let root = try dir.write("trusted_root.json", stack.trustedRootJSON)
        let signingConfig = try dir.write("signing_config.json", stack.signingConfigJSON)
        let trust = try dir.write("trust.json", stack.clientTrustConfigJSON)
        let identity = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
        let artifact = try dir.write("a.txt", "hello, conformance\n")
        let digest = Data(SHA256.hash(data: try Data(contentsOf: artifact))).hexString
        let statement = try dir.write(
            "statement.json",
            #"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a.txt","digest":{"sha256":"\#(digest)"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{},"runDetails":{}}}"#
        )
        for inToto in [false, true] {
            let bundle = dir.file(inToto ? "statement.sigstore.json" : "a.sigstore.json")
            let signed = try await chains(
                [
                    "sign-bundle", "--identity-token", stack.token(), "--bundle", bundle.path, "--trusted-root",
                    root.path,
                    "--signing-config", signingConfig.path,
                ] + (inToto ? ["--in-toto"] : [])
                    + [inToto ? statement.path : artifact.path])
            #expect(signed.status == 0, "\(signed.stderr)")
            let subject = inToto ? "sha256:\(digest)" : artifact.path
            let verified = try await chains([
                "verify-bundle", "--bundle", bundle.path, "--certificate-identity", identity,
                "--certificate-oidc-issuer", stack.issuer.url, "--trusted-root", root.path, subject,
            ])
            #expect(verified.status == 0, "\(verified.stderr)")
            #expect(verified.stderr.contains(log == .v2 ? "(a log that gives no time), timestamped at" : "logged at"))
            let python = try await Python.run(
                "sigstore_verify.py", [trust.path, bundle.path, identity, stack.issuer.url, subject])
            #expect(python.status == 0, "\(python.stdout) \(python.stderr)")
            // Another identity: refused.
            let refused = try await chains([
                "verify-bundle", "--bundle", bundle.path, "--certificate-identity", identity + "-x",
                "--certificate-oidc-issuer", stack.issuer.url, "--trusted-root", root.path, subject,
            ])
            #expect(refused.status == 1)
        }
        #expect((stack.rekor?.entryCount ?? stack.rekorV2?.entryCount) == 2)
    }
}
