import ChainsConfig
import Crypto
import Foundation
import HTTPTransport
import KubeModels
import Signing

/// The `archivista` backend: each DSSE envelope `POST`ed to `<storage.archivista.url>/upload` as Tekton Chains
/// sends it (re-encoded as go-witness's envelope: `payload`, `payloadType`, `signatures` with `keyid`, `sig`; Go's
/// escaping; a newline), the answer's gitoid checked against the one computed here (the git blob id of the body in
/// a SHA-256 repository), and the envelope read back with `GET /download/<gitoid>`. An identical re-upload, which
/// Archivista answers with 500, counts as stored once the read-back matches. The gitoid is kept on the run as
/// `chains-in-swift.dev/archivista-<key>`. Only DSSE envelopes go there (the assembly refuses simplesigning).
package struct ArchivistaStorage: StorageBackend {
    package let kind = StorageKind.archivista
    let base: URL
    let transport: any HTTPTransport

    package init(base: URL, transport: any HTTPTransport) {
        self.base = base
        self.transport = transport
    }

    /// The run annotation that names the envelope's gitoid.
    package static func annotationKey(shortKey: String) -> String { "chains-in-swift.dev/archivista-\(shortKey)" }

    var peer: String { "Archivista \(base.absoluteString)" }

    package func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        let present: Bool
        let gitoid: String
        do throws(BackendError) {
            let body = try Self.uploadBody(envelope: item.signature)
            gitoid = Self.gitoid(body)
            present = try await upload(body, gitoid: gitoid)
        } catch {
            throw StorageError(
                backend: kind, item: "envelope \(item.shortKey)", reason: error.description, underlying: error)
        }
        var receipt = StorageReceipt(backend: kind)
        receipt.annotations = [Self.annotationKey(shortKey: item.shortKey): gitoid]
        receipt.locations = [
            .init(
                target: "\(base.absoluteString) gitoid \(gitoid)", credential: "",
                detail: present
                    ? "already there (Archivista refused the identical upload); read back" : "uploaded; read back",
                alreadyPresent: present)
        ]
        return receipt
    }

    /// Uploads `body`; true when it was there already (a 500 to a re-upload, then the read-back matched).
    func upload(_ body: Data, gitoid: String) async throws(BackendError) -> Bool {
        var sent: BackendError?
        do throws(BackendError) {
            let response = try await BackendHTTP.send(
                HTTPRequest(
                    method: "POST", url: base.appendingPathComponent("upload"),
                    headers: ["Content-Type": "application/json"], body: body), via: transport, backend: kind,
                peer: peer, what: "upload")
            let answer = (try? JSONValue(parsing: response.body))?["gitoid"]?.stringValue
            guard answer == gitoid else {
                throw BackendError(
                    .failed, backend: kind, peer: peer,
                    reason:
                        "upload answered gitoid \(answer ?? "(none)"), not \(gitoid), the git blob id of what was sent")
            }
        } catch {
            // Archivista refuses an identical upload with 500 (its gitoid is unique); the read-back says which.
            guard error.kind == .unavailable, error.reason.contains("HTTP 500") else { throw error }
            sent = error
        }
        let read: Data
        do throws(BackendError) {
            read = try await download(gitoid)
        } catch {
            throw sent ?? error  // after a refused upload, the upload's error says more than "unknown gitoid"
        }
        if let sent, read != body { throw sent }
        guard read == body else {
            throw BackendError(
                .failed, backend: kind, peer: peer, reason: "the read-back of \(gitoid) is not the envelope uploaded")
        }
        return sent != nil
    }

    /// The envelope stored under `gitoid`.
    package func download(_ gitoid: String) async throws(BackendError) -> Data {
        try await BackendHTTP.send(
            HTTPRequest(method: "GET", url: base.appendingPathComponent("download").appendingPathComponent(gitoid)),
            via: transport, backend: kind, peer: peer, what: "download of \(gitoid)"
        ).body
    }

    /// The envelope as go-witness's `dsse.Envelope` marshals it, with `json.Encoder`'s trailing newline.
    package static func uploadBody(envelope: Data) throws(BackendError) -> Data {
        guard let json = try? JSONValue(parsing: envelope), let payload = json["payload"]?.stringValue,
            let type = json["payloadType"]?.stringValue, let signatures = json["signatures"]?.arrayValue,
            Data(base64Encoded: payload) != nil
        else {
            throw BackendError(
                .failed, backend: .archivista, peer: "archivista",
                reason: "the signature is not a DSSE envelope; only in-toto formats can be stored in archivista")
        }
        let sigs = signatures.map {
            "{\"keyid\":\(DSSE.quoted($0["keyid"]?.stringValue ?? "")),\"sig\":\(DSSE.quoted($0["sig"]?.stringValue ?? ""))}"
        }
        let text =
            "{\"payload\":\(DSSE.quoted(payload)),\"payloadType\":\(DSSE.quoted(type)),\"signatures\":[\(sigs.joined(separator: ","))]}\n"
        return Data(text.utf8)
    }

    /// gitoid (go-gitoid, SHA-256): `hex(sha256("blob <decimal length>\0" + body))`, the git blob id of `body`.
    package static func gitoid(_ body: Data) -> String {
        var hasher = SHA256()
        hasher.update(data: Data("blob \(body.count)\u{0}".utf8))
        hasher.update(data: body)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
