import Foundation
import MongoWire

extension FuzzHarness {
    static let mongo: [FuzzHarness] = [
        FuzzHarness(
            name: "mongo-wire",
            summary:
                "what a MongoDB server or DNS sends the mongo:// backend: BSON documents, wire messages (OP_MSG, "
                + "OP_REPLY), SCRAM server messages, DNS answers (SRV, TXT), and connection strings"
        ) { data in
            var findings = Findings()
            let bytes = Array(data)
            if let document = try? BSONReader.document(bytes) {
                // What is read writes back to the same bytes.
                let again = try? document.encoded()
                findings.check(again == bytes, "a BSON document does not write back to the bytes read")
            }
            if let (requestID, responseTo, message) = try? WireMessage.decode(bytes),
                case .message(let flags, _, _) = message, flags & WireMessage.checksumPresent == 0
            {
                let again = try? message.encoded(requestID: requestID, responseTo: responseTo)
                findings.check(again == bytes, "an OP_MSG does not write back to the bytes read")
            }
            if let answer = try? DNSMessage.parse(bytes) {
                findings.check(answer.records.count <= bytes.count / 11, "more DNS records than the bytes can hold")
            }
            let text = data.text
            var scram = SCRAMClient(user: "u", password: "p", nonce: "fuzznonce")
            if (try? scram.final(serverFirst: String(text.prefix(4096)))) != nil {
                let fields = SCRAMClient.fields(text)
                findings.check(
                    fields["r"]?.hasPrefix("fuzznonce") == true && Int(fields["i"] ?? "") ?? 0 >= 4096,
                    "a SCRAM server-first message accepted without our nonce or enough iterations")
            }
            if let url = try? MongoConnectionString.parse(String(text.prefix(2048))) {
                if let password = url.password, password.count >= 3 {
                    findings.check(!url.redacted.contains(password), "the redacted URL shows the password")
                }
                findings.check(!url.hosts.isEmpty, "a connection string accepted without a host")
            }
            return findings.list
        }
    ]
}
