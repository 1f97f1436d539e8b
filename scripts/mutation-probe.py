#!/usr/bin/env python3
"""Mutation probe: small semantic changes to the decisions that guard users, each applied to the source, the tests that
cover it run (one filter per mutation), and the change reverted. A mutation the tests do not catch "survives": a
decision no test holds. By hand, not in CI (about 20-30 minutes on 2 cores): scripts/mutation-probe.sh [ID...]
Prints one line per mutation and a summary; writes .build/mutation-report.txt. `--check` only checks, without
building, that every probe's text stands once in its file (the test script runs it, so moved code updates its probes)."""
import os, subprocess, sys, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# id, file, original text, mutated text, test filter, what the mutation breaks
M = [
    ("keyring-wildcard", "Sources/RegistryAuth/Keyring.swift", "guard keyLabels.count == imageLabels.count else { return false }",
     "", "RegistryAuthTests", "a *.example.com entry also matches a.b.example.com"),
    ("keyring-port", "Sources/RegistryAuth/Keyring.swift", "guard k.port == i.port else { return false }", "",
     "RegistryAuthTests", "a credential for host:5000 is sent to host:443"),
    ("keyring-path", "Sources/RegistryAuth/Keyring.swift", "return i.path.hasPrefix(k.path)", "return true",
     "RegistryAuthTests", "a repository-scoped entry is used for other repositories"),
    ("redirect-strip-auth", "Sources/HTTPTransport/AsyncHTTPClientTransport.swift", 'headers["Authorization"] = nil', "",
     "OCIRegistryTests", "credentials follow a redirect to another host"),
    ("redirect-https-http", "Sources/HTTPTransport/AsyncHTTPClientTransport.swift",
     'if current.url.scheme == "https" && next.scheme != "https" {', 'if false && current.url.scheme == "https" {',
     "OCIRegistryTests", "an https request follows a redirect to plain http"),
    ("realm-plain-http", "Sources/OCIRegistry/RegistryClient.swift",
     'if realm.scheme != "https" && !(registryOverHTTP || connection.security == .insecureSkipVerify) {',
     'if realm.scheme == "gopher" && !(registryOverHTTP || connection.security == .insecureSkipVerify) {',
     "OCIRegistryTests", "registry credentials are sent to a plain-http token realm"),
    ("token-min-lifetime", "Sources/OCIRegistry/RegistryClient.swift", "seconds.isFinite ? max(seconds, 60) : 60",
     "seconds", "OCIRegistryTests", "a token with a tiny or absent expires_in is thrown away at once"),
    ("token-refresh-margin", "Sources/OCIRegistry/RegistryClient.swift", "let margin = min(30, lifetime / 10)",
     "let margin = -lifetime", "OCIRegistryTests", "an expired registry token is still used"),
    ("read-back", "Sources/OCIRegistry/Cosign.swift",
     "decoded.layers.count >= 1, decoded.layers.contains(where: { $0.digest == layer.description })",
     "decoded.layers.count >= 0", "OCIRegistryTests", "a write the registry lost is marked signed"),
    ("lost-write-retryable", "Sources/OCIRegistry/RegistryError.swift",
     "        lostWrite\n            || (!isAuthorizationFailure", "        false\n            || (!isAuthorizationFailure", "FaultMatrix", "a lost write is a final failure, never pushed again"),
    ("dedupe-layer", "Sources/OCIRegistry/Cosign.swift",
     "$0.digest == layerDigest.description && (sameSigner?($0.annotations ?? [:]) ?? true)",
     '$0.digest == layerDigest.description + "-" && (sameSigner?($0.annotations ?? [:]) ?? true)',
     "OCIRegistryTests", "a retry adds a second identical signature layer"),
    ("retry-503", "Sources/HTTPTransport/HTTPTransport.swift", "status == 408 || status == 429 || ((500...599)",
     "status == 408 || status == 429 || ((500...502)",
     "OCIRegistryTests", "a 503 is not retried"),
    ("retry-reset", "Sources/HTTPTransport/HTTPTransport.swift",
     "package var isTransient: Bool { kind == .connectionReset || kind == .timeout }",
     "package var isTransient: Bool { kind == .timeout }", "OCIRegistryTests", "a reset connection is not retried"),
    ("retry-after", "Sources/HTTPTransport/Decorators.swift",
     "if let seconds = Double(retryAfter.trimmingCharacters(in: .whitespaces)) {", "if let seconds = Optional(0.0) {",
     "OCIRegistryTests", "Retry-After is ignored"),
    ("budget", "Sources/HTTPTransport/Decorators.swift", "return remaining > .milliseconds(Int64(wait * 1000) + 1)",
     "return remaining > .milliseconds(Int64(wait * 0) - 86_400_000)", "OCIRegistryTests", "retries are started past the run's deadline"),
    ("truncated-retryable", "Sources/HTTPTransport/AsyncHTTPClientTransport.swift",
     "                kind: .connectionReset, host: host, reason: \"the answer was cut short",
     "                kind: .connection, host: host, reason: \"the answer was cut short", "FaultMatrix",
     "an answer cut short is not asked again"),
    ("rekor-409", "Sources/Sigstore/Rekor.swift", "        case 409:", "        case 409 where false:",
     "SigstoreTests|TransparencySign", "a retry logs a second entry instead of fetching the existing one"),
    ("rekor-set", "Sources/Sigstore/Rekor.swift",
     "guard key.isValidSignature(entry.signedEntryTimestamp, for: promise.serialized) else {",
     "guard key.isValidSignature(entry.signedEntryTimestamp, for: promise.serialized) || entry.logIndex >= 0 else {",
     "SigstoreTests", "a log entry with a forged SET is accepted"),
    ("rekor-inclusion", "Sources/Sigstore/Rekor.swift", "                == root", "                != nil",
     "SigstoreTests", "an inclusion proof to another root is accepted"),
    ("rekor-checkpoint", "Sources/Sigstore/Rekor.swift", "guard checkpoint.isSigned(by: log.publicKey) else {",
     "guard true else {", "SigstoreTests", "an unsigned checkpoint is accepted"),
    ("rekor-malformed-retryable", "Sources/Sigstore/Rekor.swift", "        malformedAnswer || (status.map",
     "        (status.map", "FaultMatrix", "a log answering garbage fails the run for good"),
    ("fulcio-own-key", "Sources/Sigstore/Fulcio.swift",
     "guard chain[0].publicKey == Certificate.PublicKey(key.publicKey) else {", "guard true else {",
     "SigstoreTests", "a certificate for someone else's key is used to sign"),
    ("fulcio-chain", "Sources/Sigstore/Fulcio.swift",
     "where !issuer.publicKey.isValidSignature(certificate.signature, for: certificate) {", "where false {",
     "SigstoreTests", "a chain whose links do not verify is accepted"),
    ("sct-signature", "Sources/Sigstore/SCT.swift", "key.isValidSignature(sct.signature, for: message)",
     "(key.isValidSignature(sct.signature, for: message) || !message.isEmpty)",
     "SigstoreTests", "an SCT with a bad signature vouches for a certificate"),
    ("tlog-time-in-cert", "Sources/ChainsCore/Transparency/TransparencyLog.swift",
     "guard certificate.notValidBefore <= time, time <= certificate.notValidAfter else {", "guard true else {",
     "ChainsCoreTests|SigstoreTests", "an entry integrated outside the certificate's validity is accepted"),
    ("tuf-threshold", "Sources/Sigstore/TUFMetadata.swift", "return good.count >= role.threshold",
     "return good.count >= 1", "TUFTests|TUFThreshold", "one key signs for a 2-of-2 role"),
    ("tuf-rollback", "Sources/Sigstore/TUFClient.swift", "cached.version > timestamp.version {",
     "cached.version > timestamp.version + 1_000_000 {", "TUFTests", "an older timestamp replaces the cached one"),
    ("tuf-expiry", "Sources/Sigstore/TUFClient.swift", "guard metadata.expires > now() else {", "guard true else {",
     "TUFTests", "expired metadata is trusted"),
    ("dsse-pae", "Sources/Signing/Signer.swift",
     'var out = Data("DSSEv1 \\(payloadType.utf8.count) \\(payloadType) \\(payload.count) ".utf8)',
     'var out = Data("DSSEv1 \\(payloadType.count) \\(payloadType) \\(payload.count) ".utf8)',
     "SigningTests|Interop", "PAE counts characters, not bytes"),
    ("retries-limit", "Sources/ChainsCore/Pipeline/Annotations.swift", "return n < maxRetries", "return n <= maxRetries",
     "ChainsCoreTests", "a fourth retry is made where Chains stops at three"),
    ("destination-metadata", "Sources/ChainsCore/Assembly/RegistrySettings.swift", "        if Self.isMetadata(host) {",
     "        if false && Self.isMetadata(host) {", "DestinationTests", "a push goes to the cloud metadata address"),
    ("destination-loopback", "Sources/ChainsCore/Assembly/RegistrySettings.swift",
     "if refuseLoopback, Self.isLoopback(host), !listed {", "if false {", "DestinationTests",
     "in a cluster, a push goes to loopback"),
    ("destination-address-metadata", "Sources/ChainsCore/Assembly/RegistrySettings.swift", "        if Self.isMetadata(address) {",
     "        if false && Self.isMetadata(address) {", "DestinationTests",
     "a name resolving (or pinned) to the metadata address is pushed to"),
    ("destination-address-check", "Sources/HTTPTransport/ConnectionRules.swift",
     "                if let why = refusal(url.hostAndPort, address) {",
     "                if let why = refusal(url.hostAndPort, address), why.isEmpty {", "ConnectionRulesTests|DestinationTests",
     "the transport connects to an address the rules refuse"),
    ("ecr-host-account", "Sources/CloudCredentials/ECR.swift", "labels[0].count == 12, labels[0]",
     "labels[0].count >= 1, labels[0]", "CloudCredentialsTests", "ECR's keychain is asked for a host that is not ECR's"),
    ("gcr-host", "Sources/CloudCredentials/GCR.swift", 'labels[2] == "dev" && labels[0].hasSuffix("-docker")',
     'labels[2] == "dev" && !labels[0].isEmpty', "CloudCredentialsTests",
     "the metadata server's token is offered to any *.pkg.dev host"),
    ("kubelet-merge", "Sources/RegistryAuth/Keychain.swift", "merged.merge(keyring.keyring)",
     "merged = keyring.keyring", "RegistryAuthTests", "only the last Secret of a source is used"),
    ("credstore-empty-entries", "Sources/RegistryAuth/SecretCredentials.swift",
     "config.auths = config.auths.filter { !$0.value.isAnonymous }", "config.auths = config.auths.filter { _ in true }",
     "RegistryAuthTests", "a credential-store Secret's empty entry is offered as a credential"),
    ("ecr-token-margin", "Sources/CloudCredentials/ECR.swift", "known.until.timeIntervalSince(now) > 300 {",
     "known.until.timeIntervalSince(now) > -1e9 {", "CloudCredentialsTests", "an ECR token near its expiry is reused"),
    ("kms-digest", "Sources/CloudCredentials/AWSKMS.swift", '"MessageType": "DIGEST",', '"MessageType": "RAW",',
     "KMSTests", "KMS is asked to sign the digest as a message"),
    ("sigv4-session-token", "Sources/CloudCredentials/SigV4.swift",
     'if let token = credentials.sessionToken, !token.isEmpty { request.headers["X-Amz-Security-Token"] = token }',
     'if let token = credentials.sessionToken, token.isEmpty { request.headers["X-Amz-Security-Token"] = token }',
     "CloudCredentialsTests", "temporary credentials are sent without their session token"),
    ("cloud-outage-retryable", "Sources/RegistryAuth/Keychain.swift",
     "if error.isTransient { out.readErrors.append(error) }",
     "if error.isTransient, false { out.readErrors.append(error) }",
     "ECRTests", "an ECR outage spends the run's retries as if credentials were missing"),
    ("akv-challenge-domain", "Sources/CloudCredentials/AzureKeyVault.swift", 'guard vaultHost.hasSuffix("." + host) else {',
     'guard vaultHost.hasSuffix("") else {', "AzureKeyVaultTests",
     "an Entra token is sent to a vault whose challenge names another resource"),
    ("akv-raw-to-der", "Sources/CloudCredentials/AzureKeyVault.swift",
     'algorithm.hasPrefix("ES") ? publicKey.derSignature(fromRaw: raw) : raw', "Optional(raw)", "AzureKeyVaultTests",
     "Key Vault's raw r||s ECDSA signature is used as it comes (cosign cannot read it)"),
    ("akv-version-pin", "Sources/CloudCredentials/AzureKeyVault.swift", 'let path = "keys/\\(reference.key)/\\(version)/sign"',
     'let path = "keys/\\(reference.key)/\\(reference.version ?? "")/sign"', "AzureKeyVaultTests",
     "a rotated key signs with a version the cached public key is not"),
    ("credentials-plain-http", "Sources/HTTPTransport/TLSPolicy.swift",
     'return scheme == "https" || (scheme == "http" && isLoopback)', 'return scheme == "https" || scheme == "http"',
     "AzureKeyVaultTests|VaultTests|credentialDestinations",
     "the Entra token or secret, a Vault token or Fulcio's identity token goes over plain http to another host"),
    ("lease-late-renewal", "Sources/Controller/BucketElectorRound.swift",
     "if let previous, clock.now() - previous >= settings.renewDeadline {",
     "if let previous, sent - previous >= settings.renewDeadline {", "lateRenewal",
     "runs turned away while a renewal was on the wire are never queued again (they stay unsigned)"),
    ("helper-time-limit", "Sources/RegistryAuth/DockerConfig.swift",
     "DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {",
     "DispatchQueue.global().asyncAfter(deadline: .now() + seconds * 1000) {", "hangingHelper",
     "a docker credential helper that never answers hangs the credential search"),
    ("helper-sigpipe", "Sources/RegistryAuth/DockerConfig.swift", "        _ = Self.brokenPipesAreErrors\n",
     "        _ = ()\n", "helperExitsAtOnce", "a helper that exits before reading its input ends the process (SIGPIPE)"),
    ("namespace-secrets", "Sources/RegistryAuth/Keychain.swift",
     "secret = try await objects.secret(namespace: run.namespace, name: name)",
     'secret = try await objects.secret(namespace: "team-b", name: name)', "OCIRegistryTests|RegistryAuthTests",
     "a run's secrets are read from another namespace"),
    ("attempt-cert-lifetime", "Sources/ChainsCore/Pipeline/AttemptRecord.swift", "parsed[0].notValidAfter > now.addingTimeInterval(60)",
     "parsed[0].notValidAfter > now.addingTimeInterval(-86400)", "ChainsCoreTests|OCIRegistryTests",
     "a retry reuses a signature whose certificate has expired"),
    # Issue 21: attempt records only we can have made, and one decision at a time in logs, roots, TUF and lists.
    ("attempt-format", "Sources/ChainsCore/Pipeline/AttemptRecord.swift", "guard format == item.setting.format.rawValue else {",
     "guard true else {", "AttemptRecordTrustTests", "a record made for another format is reused"),
    ("attempt-payload", "Sources/ChainsCore/Pipeline/AttemptRecord.swift",
     "Data(base64Encoded: $0) }), payload == planned else {", "Data(base64Encoded: $0) }), !payload.isEmpty else {",
     "AttemptRecordTrustTests", "a signature of ours over another image's payload is reused for this one"),
    ("attempt-key-rotated", "Sources/ChainsCore/Pipeline/AttemptRecord.swift",
     "guard key.isValidSignature(signature, for: payload) else {", "guard !signature.isEmpty else {",
     "AttemptRecordTrustTests", "a simplesigning record of a rotated-out key is reused"),
    ("attempt-envelope-payload", "Sources/ChainsCore/Pipeline/AttemptRecord.swift",
     "Data(base64Encoded: envelope.payload) == payload else {", "Data(base64Encoded: envelope.payload) != nil else {",
     "AttemptRecordTrustTests|plantedRecord", "an envelope over another run's statement passes the payload check"),
    ("attempt-envelope-key", "Sources/ChainsCore/Pipeline/AttemptRecord.swift",
     "guard DSSE.verify(envelope: data, publicKey: key) == payload else {",
     "guard DSSE.verify(envelope: data, publicKey: key) != nil || true else {", "AttemptRecordTrustTests",
     "an envelope signed by another key (a rotated one) is reused"),
    ("attempt-chain-under-key", "Sources/ChainsCore/Pipeline/AttemptRecord.swift", "switch (chain, current.certificateChain) {",
     "switch (chain, current.certificateChain ?? chain.map { _ in [] }) {", "AttemptRecordTrustTests",
     "a certificate record is taken to the keyless check when the configuration signs with a key"),
    ("attempt-bundle-statement", "Sources/ChainsCore/Pipeline/AttemptRecord.swift",
     "envelope, payload: statement, key: key,",
     "envelope, payload: DSSE.verify(envelope: envelope, publicKey: key) ?? statement, key: key,",
     "AttemptRecordTrustTests", "a record's bundle statement over another image is reused"),
    ("attempt-force", "Sources/ChainsCore/Pipeline/SigningService.swift", "let previous = reason == .unsigned ? annotations : [:]",
     "let previous = annotations", "AttemptRecordTrustTests", "a --force re-sign reuses records left on the run"),
    ("attempt-identity", "Sources/Sigstore/KeylessSigner.swift",
     "guard theirs.names == mine.names, theirs.issuer == mine.issuer else {",
     "guard theirs.issuer == mine.issuer else {", "KeylessAttemptRecordTests",
     "a record certified for another identity is reused"),
    ("attempt-issuer", "Sources/Sigstore/KeylessSigner.swift",
     "guard theirs.names == mine.names, theirs.issuer == mine.issuer else {",
     "guard theirs.names == mine.names else {", "KeylessAttemptRecordTests",
     "a record certified for our subject by another OIDC issuer is reused"),
    ("attempt-chain-root", "Sources/Sigstore/KeylessSigner.swift",
     "leaf: leaf, chain: Array(chain.dropFirst()), at: leaf.notValidBefore, root: root)",
     "leaf: leaf, chain: Array(chain.dropFirst()), at: leaf.notValidBefore, root: TrustedRoot(issuerOf: chain))",
     "KeylessAttemptRecordTests", "a record whose certificate another CA issued (a self-made one) is reused"),
    ("attempt-sct", "Sources/Sigstore/KeylessSigner.swift", "        if !root.ctlogs.isEmpty {", "        if false {",
     "KeylessAttemptRecordTests", "a record whose certificate no CT log saw is reused"),
    ("attempt-no-root-anchor", "Sources/Sigstore/KeylessSigner.swift", "?? TrustedRoot(issuerOf: current)",
     "?? TrustedRoot(issuerOf: chain)", "KeylessAttemptRecordTests",
     "with no trusted root, a record from any CA is reused"),
    ("tlog-window", "Sources/Sigstore/Rekor.swift", "guard log.validFor?.contains(entry.integratedDate) ?? true else {",
     "guard true else {", "TrustDecisionTests", "a Rekor key vouches outside its validFor"),
    ("validfor-end-inclusive", "Sources/Sigstore/TrustedRoot.swift", "(end.map { date <= $0 } ?? true)",
     "(end.map { date < $0 } ?? true)", "TrustDecisionTests|KeylessAttemptRecordTests",
     "a trusted-root window's last second is outside it"),
    ("validfor-end", "Sources/Sigstore/TrustedRoot.swift", "(end.map { date <= $0 } ?? true)",
     "(end.map { date <= $0.addingTimeInterval(1) } ?? true)", "TrustDecisionTests|KeylessAttemptRecordTests",
     "a key or CA vouches one second past its window's end"),
    ("validfor-start", "Sources/Sigstore/TrustedRoot.swift", "(start.map { $0 <= date } ?? true)",
     "(start.map { $0 <= date.addingTimeInterval(1) } ?? true)", "TrustDecisionTests|KeylessAttemptRecordTests",
     "a key or CA vouches one second before its window starts"),
    ("ctlog-window", "Sources/Sigstore/SCT.swift", "guard log.validFor?.contains(sct.date) ?? true else {",
     "guard true else {", "TrustDecisionTests", "a CT log key vouches outside its validFor"),
    ("fulcio-ca-window", "Sources/Sigstore/TrustedRoot.swift",
     "for ca in certificateAuthorities where ca.validFor?.contains(date) ?? true {", "for ca in certificateAuthorities {",
     "TrustDecisionTests", "Fulcio's answer is anchored by a CA outside its validity"),
    ("verify-ca-window", "Sources/Sigstore/KeylessVerifier.swift",
     "let cas = root.certificateAuthorities.filter { $0.validFor?.contains(time) ?? true }",
     "let cas = root.certificateAuthorities", "KeylessAttemptRecordTests|ConformanceTests",
     "a certificate is validated against a CA outside its validity"),
    ("checkpoint-root", "Sources/Sigstore/Rekor.swift", "guard checkpoint.rootHash == root, checkpoint.size == size else {",
     "guard checkpoint.size == size else {", "TrustDecisionTests",
     "an inclusion proof is checked against a checkpoint for another root"),
    ("checkpoint-size", "Sources/Sigstore/Rekor.swift", "guard checkpoint.rootHash == root, checkpoint.size == size else {",
     "guard checkpoint.rootHash == root else {", "TrustDecisionTests",
     "a checkpoint for another tree size vouches for the proof"),
    ("entry-digest", "Sources/Sigstore/Rekor.swift", 'data?["value"] as? String == digest.hexString,',
     'data?["value"] as? String != digest.hexString + "x",', "TrustDecisionTests", "the log recorded another digest and we take it for ours"),
    ("entry-algorithm", "Sources/Sigstore/Rekor.swift", 'guard data?["algorithm"] as? String == "sha256",',
     'guard data?["algorithm"] as? String != nil,', "TrustDecisionTests",
     "the log recorded the digest under another algorithm and we take it for ours"),
    ("entry-signature", "Sources/Sigstore/Rekor.swift", 'sig?["content"] as? String == signature.base64EncodedString(),',
     'sig?["content"] as? String != signature.base64EncodedString() + "x",', "TrustDecisionTests",
     "the log recorded another signature and we take it for ours"),
    ("entry-verifier", "Sources/Sigstore/Rekor.swift", "let key, Self.sameDER(String(decoding: key, as: UTF8.self), pem)",
     "let key, !key.isEmpty || Self.sameDER(pem, pem)", "TrustDecisionTests", "the log recorded another verifier and we take it for ours"),
    ("entry-dsse-payload", "Sources/Sigstore/Rekor.swift", "                    == Data(SHA256.hash(data: payload)).hexString,",
     "                    != Data(SHA256.hash(data: payload + Data([1]))).hexString,", "TrustDecisionTests",
     "the log recorded a DSSE entry over another payload and we take it for ours"),
    ("entry-dsse-signature", "Sources/Sigstore/Rekor.swift", '$0["signature"] as? String == ours.sig',
     '$0["signature"] as? String != ours.sig + "x"', "TrustDecisionTests",
     "the log recorded a DSSE entry with another signature and we take it for ours"),
    ("identity-exact", "Sources/Sigstore/KeylessVerifier.swift", "case .exact(let expected): return value == expected",
     "case .exact(let expected): return value.hasPrefix(expected)", "TrustDecisionTests",
     "--certificate-identity …/org accepts …/org-evil"),
    ("tuf-role-keys", "Sources/Sigstore/TUFMetadata.swift", "role.keyIDs.contains(id), !good.contains(id)",
     "!good.contains(id)", "TUFTests", "a key the root lists for another role signs this role's metadata"),
    ("tuf-snapshot-rollback", "Sources/Sigstore/TUFClient.swift", 'cachedMetadata("snapshot"), cached.version > snapshot.version {',
     'cachedMetadata("snapshot"), cached.version > snapshot.version + 1_000_000 {', "TUFTests",
     "an older snapshot replaces the cached one"),
    ("tuf-targets-rollback", "Sources/Sigstore/TUFClient.swift", 'cachedMetadata("targets"), cached.version > targets.version {',
     'cachedMetadata("targets"), cached.version > targets.version + 1_000_000 {', "TUFTests",
     "an older targets replaces the cached one"),
    ("tuf-meta-hashes", "Sources/Sigstore/TUFMetadata.swift",
     'case "sha256": if Data(SHA256.hash(data: data)).hexString != hex.lowercased() { return false }',
     'case "sha256": if hex.isEmpty { return false }', "TUFTests",
     "metadata whose bytes are not those its parent hashed is trusted (its signature holds)"),
    ("tuf-meta-length", "Sources/Sigstore/TUFMetadata.swift", "if let length, Int64(data.count) != length { return false }",
     "if let length, length < 0 { return false }", "TUFTests",
     "metadata of another length than its parent names is trusted"),
    ("leaf-digital-signature", "Sources/Sigstore/KeylessVerifier.swift",
     "guard (try? leaf.extensions.keyUsage)??.digitalSignature == true else {", "guard true else {", "LeafProfileTests",
     "a leaf whose KeyUsage lacks digitalSignature validates as a Fulcio leaf"),
    ("leaf-code-signing", "Sources/Sigstore/KeylessVerifier.swift",
     "guard (try? leaf.extensions.extendedKeyUsage)??.contains(.codeSigning) == true else {", "guard true else {",
     "LeafProfileTests", "a leaf without the codeSigning EKU validates as a Fulcio leaf"),
    ("leaf-san", "Sources/Sigstore/KeylessVerifier.swift",
     "guard let names = try? leaf.extensions.subjectAlternativeNames, !names.isEmpty else {",
     'guard let names = Optional([GeneralName.dnsName("x")]), !names.isEmpty else {', "LeafProfileTests",
     "a leaf without a subject alternative name validates as a Fulcio leaf"),
    ("entry-future", "Sources/Sigstore/BundleVerifier.swift",
     "guard entry.integratedDate <= now.addingTimeInterval(60) else {", "guard true else {", "LeafProfileTests",
     "a bundle's log entry dated in the future is accepted"),
    ("allowlist-one", "Sources/ChainsCore/Assembly/RegistrySettings.swift", "if !allowed.isEmpty, !listed {",
     "if allowed.count > 1, !listed {", "DestinationTests", "an allow-list of one entry lets every registry in"),
    # Issue 22.
    ("attempt-timestamp", "Sources/ChainsCore/Pipeline/AttemptRecord.swift",
     "                try await authority.verify(stamp, signature: signature)",
     "                if stamp.der.isEmpty { try await authority.verify(stamp, signature: signature) }",
     "TimestampSeamTests", "a record's timestamp that the configured authority did not make is reused"),
    ("pod-pull-secrets", "Sources/RegistryAuth/Keychain.swift",
     "podSecrets = (pod?.spec?.imagePullSecrets ?? []).compactMap(\\.name)",
     "podSecrets = (pod?.spec?.imagePullSecrets ?? []).compactMap(\\.name).filter { _ in false }",
     "podPullSecrets", "the run's Pod imagePullSecrets are neither listed by explain nor tried by sign"),
    ("read-cache", "Sources/ChainsCore/Pipeline/SigningService.swift",
     "context.clusterReads = ClusterReadCache(cluster)", "context.clusterReads = nil",
     "clusterReadsOncePerRun", "each push reads the run's ServiceAccount, Secrets and Pod again"),
    ("spiffe-required", "Sources/SPIFFE/WorkloadAPI.swift", "            guard required else { return nil }",
     "            guard required && problem.isEmpty else { return nil }", "WorkloadAPITests",
     "a SPIFFE socket that was asked for and is missing is reported as 'no identity token found'"),
]

only = set(a for a in sys.argv[1:] if not a.startswith("--"))
if "--check" in sys.argv:
    # Without building: does every probe's text still stand exactly once in its file? (Run after moving code.)
    stale = [f"{m[0]}: {m[1]}" for m in M if open(os.path.join(root, m[1])).read().count(m[2]) != 1]
    print(f"{len(M)} probes, {len(stale)} whose text is not found once" + "".join("\n  " + s for s in stale))
    sys.exit(1 if stale else 0)
report, survived = [], []
env = dict(os.environ, CHAINS_TEST_PYTHON=os.environ.get("CHAINS_TEST_PYTHON", os.path.join(root, ".venv-test/bin/python")))

def run(cmd, timeout):
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)

start_all = time.time()
base = run(["swift", "build", "--build-tests"], 1800)
if base.returncode != 0:
    sys.exit("mutation-probe: the unmutated tree does not build:\n" + base.stdout[-3000:] + base.stderr[-3000:])
for mid, path, old, new, filt, meaning in M:
    if only and mid not in only:
        continue
    file = os.path.join(root, path)
    original = open(file).read()
    if original.count(old) != 1:
        line = f"{mid:28} NOT APPLIED: the text is not found once in {path} (update the probe)"
        print(line, flush=True); report.append(line); survived.append(mid)
        continue
    t0 = time.time()
    try:
        open(file, "w").write(original.replace(old, new, 1))
        built = run(["swift", "build", "--build-tests"], 1800)
        if built.returncode != 0:
            # Not a kill: a mutation must compile to say anything about the tests (warnings are errors here).
            verdict = "NOT COMPILED"
            survived.append(mid)
        else:
            tested = run(["swift", "test", "--skip-build", "--filter", filt], 1800)
            verdict = "killed" if tested.returncode != 0 else "SURVIVED"
    except subprocess.TimeoutExpired:
        verdict = "killed (timeout)"
    finally:
        open(file, "w").write(original)
    if verdict == "SURVIVED":
        survived.append(mid)
    elif verdict == "NOT COMPILED":
        verdict += " (fix the probe)"
    line = f"{mid:28} {verdict:26} {time.time() - t0:6.0f} s  [{filt}] {meaning}"
    print(line, flush=True)
    report.append(line)
run(["swift", "build", "--build-tests"], 1800)
summary = f"{len(report)} mutations, {len(report) - len(survived)} killed, {len(survived)} survived ({', '.join(survived) or 'none'}); {time.time() - start_all:.0f} s"
print(summary)
os.makedirs(os.path.join(root, ".build"), exist_ok=True)
open(os.path.join(root, ".build", "mutation-report.txt"), "w").write("\n".join(report + [summary]) + "\n")
sys.exit(1 if survived else 0)
