import ChainsCore
import ChainsTesting
import Foundation
import KubeModels
import Signing
import Testing

@testable import CloudCredentials

/// `signer: kms` with `awskms://`: the key stays in KMS (moto, signatures and policy checked); what it signs verifies
/// with Python `cryptography` and securesystemslib from the public key KMS hands out.
@Suite("KMS signers: awskms:// against moto", .serialized)
struct KMSTests {

    @Test("kmsref forms: awskms:///KEY, awskms://ENDPOINT/KEY, ARNs name their region")
    func references() throws {
        let plain = try AWSKMSReference(parsing: "awskms:///alias/chains")
        #expect(plain.endpoint == nil && plain.keyID == "alias/chains" && plain.arnRegion == nil)
        let endpoint = try AWSKMSReference(parsing: "awskms://localhost:4566/1234abcd-12ab-34cd-56ef-1234567890ab")
        #expect(endpoint.endpoint == "localhost:4566" && endpoint.keyID == "1234abcd-12ab-34cd-56ef-1234567890ab")
        let arn = try AWSKMSReference(parsing: "awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234abcd")
        #expect(arn.arnRegion == "eu-west-1")
        for bad in ["awskms://", "awskms:///", "kms://x", "alias/chains", "azurekms://vault.vault.azure.net/key"] {
            #expect(throws: CloudCredentialError.self, "\(bad)") { try AWSKMSReference(parsing: bad) }
        }
    }

    func config(_ dir: TemporaryDirectory, kmsref: String) throws -> URL {
        try dir.write(
            "config.yaml",
            """
            artifacts.taskrun.format: slsa/v1
            artifacts.taskrun.signer: kms
            artifacts.oci.signer: kms
            artifacts.oci.storage: tekton
            signers.kms.kmsref: \(kmsref)

            """)
    }

    @Test(
        "a run and its image signed in KMS (DIGEST, the hash made here); both verify from KMS's public key",
        arguments: ["ECC_NIST_P256", "RSA_2048"])
    func signs(spec: String) async throws {
        // Eight set-up actions (role, user, key); every call we make is signature- and policy-checked.
        let moto = try await MotoServer(unauthenticatedActions: 8)
        defer { moto.stop() }
        let made = try await moto.setUp(["--user", "--kms", spec])
        let dir = try TemporaryDirectory()
        var setup = LocalSetup(configFile: try config(dir, kmsref: "awskms:///alias/chains"))
        setup.environment = [
            "AWS_ACCESS_KEY_ID": made["access_key"]!, "AWS_SECRET_ACCESS_KEY": made["secret_key"]!,
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_KMS": moto.endpoint,
        ]
        let signed = await signRunFile(PackagePaths.example("taskrun-kaniko.yaml"), setup: setup)
        #expect(signed.exitCode == 0, "\(signed.facts)\n\(moto.log)")
        #expect(signed.text.contains("AWS KMS key awskms:///alias/chains"), "\(signed.text)")
        let failures = try await independentFailures(signed, publicKeyPEM: made["public_key"]!, in: dir)
        #expect(failures.isEmpty, "\(failures)")
        #expect(!signed.text.contains(made["secret_key"]!))
    }

    @Test("never a quiet fallback: no kmsref, another scheme, no AWS credentials, an unknown key — each named")
    func refusals() async throws {
        let dir = try TemporaryDirectory()
        let kaniko = PackagePaths.example("taskrun-kaniko.yaml")
        func setupErrors(_ kmsref: String, environment: [String: String]) async throws -> String {
            var setup = LocalSetup(configFile: try config(dir, kmsref: kmsref))
            setup.environment = environment
            let signed = await signRunFile(kaniko, setup: setup)
            #expect(signed.exitCode != 0 && signed.outcome?.annotations.mark["chains.tekton.dev/signed"] != "true")
            return signed.text
        }
        let aws = ["AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"]
        let empty = try await setupErrors("\"\"", environment: aws)
        #expect(
            empty.contains("signers.kms.kmsref: is empty, but artifacts.taskrun.signer, artifacts.oci.signer is kms"),
            "\(empty)")
        let other = try await setupErrors("k8s://tekton-chains/signing-secrets", environment: aws)
        #expect(
            other.contains(
                "signers.kms.kmsref: is not a KMS reference (awskms://, gcpkms://, azurekms:// or hashivault://)"),
            "\(other)")
        let none = try await setupErrors("awskms:///alias/chains", environment: [:])
        #expect(none.contains("needs AWS credentials, and the environment names none"), "\(none)")
        let moto = try await MotoServer(unauthenticatedActions: 5)
        defer { moto.stop() }
        let made = try await moto.setUp(["--user"])
        let unknown = try await setupErrors(
            "awskms:///alias/nowhere",
            environment: [
                "AWS_ACCESS_KEY_ID": made["access_key"]!, "AWS_SECRET_ACCESS_KEY": made["secret_key"]!,
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto.endpoint,
            ])
        #expect(
            unknown.contains("signers.kms.kmsref awskms:///alias/nowhere (AWS access key")
                && unknown.contains("KMS GetPublicKey refused: HTTP 400 NotFoundException"), "\(unknown)")
    }
}
