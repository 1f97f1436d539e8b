import Foundation
import OCI
import PropertyBased
import RegistryAuth
import Signing
import Sigstore
import Testing

/// Round trips that must hold for every input, generated and shrunk by swift-property-based.
@Suite("Round-trip properties")
struct PropertyTests {
    static let label = Gen.lowercaseLetter.string(of: 2...8)
    static let printable = Gen.character(in: " "..."~").string(of: 0...24)

    @Test("an image reference's printed form parses to the same reference")
    func imageReferences() async {
        await propertyCheck(
            input: Self.label, Self.label.array(of: 1...3), Gen.letterOrNumber.string(of: 1...12),
            Gen.int(in: 0...65535)
        ) { host, path, tag, port in
            let registry = port % 3 == 0 ? "\(host).example.com" : "\(host).example.com:\(port)"
            let text = "\(registry)/\(path.joined(separator: "/")):\(tag)"
            let hex = String(repeating: String(format: "%02x", port % 256), count: 32)
            for candidate in [text, "\(text)@sha256:\(hex)"] {
                guard let reference = try? ImageReference(parsing: candidate) else {
                    Issue.record("\(candidate) did not parse")
                    continue
                }
                let again = try? ImageReference(parsing: reference.description)
                #expect(again?.description == reference.description && again?.name == reference.name)
                #expect(reference.registry == registry && reference.repository == path.joined(separator: "/"))
            }
        }
    }

    @Test("TUF canonical JSON: one form per value, whatever the key order, and it reads back")
    func canonicalJSON() async {
        await propertyCheck(input: Self.printable.array(of: 0...6), Gen.int(in: -1000...1000)) { keys, number in
            var object: [String: TUFJSON] = [:]
            for (i, key) in keys.enumerated() { object[key] = i % 2 == 0 ? .string(key) : .integer(Int64(number + i)) }
            let value = TUFJSON.object(object)
            guard let canonical = value.canonical else {
                Issue.record("no canonical form for integers and strings")
                return
            }
            // Printable ASCII needs no escapes beyond `"` and `\`, so the canonical form is JSON here.
            #expect(TUFJSON.parse(canonical) == value)
            let reversed = TUFJSON.object(Dictionary(uniqueKeysWithValues: object.reversed()))
            #expect(reversed.canonical == canonical)
        }
    }

    @Test("PAE: lengths are UTF-8 byte counts, the payload follows unchanged")
    func pae() async {
        await propertyCheck(
            input: Gen.unicodeScalar(in: " "..."\u{2FFF}").array(of: 0...12), Gen.int(in: 0...255).array(of: 0...64)
        ) { scalars, bytes in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let type = String(view)
            let payload = Data(bytes.map { UInt8($0) })
            let pae = DSSE.pae(payloadType: type, payload: payload)
            let prefix = Data("DSSEv1 \(type.utf8.count) \(type) \(payload.count) ".utf8)
            #expect(pae == prefix + payload)
        }
    }

    @Test("docker config auth: base64 of user:password reads back; a password with ':' is kept whole")
    func dockerAuth() async {
        await propertyCheck(
            input: Gen.letterOrNumber.string(of: 1...12), Self.printable, Self.label
        ) { user, password, host in
            let auth = Data("\(user):\(password)".utf8).base64EncodedString()
            let json = #"{"auths":{"\#(host).example.com":{"auth":"\#(auth)"}}}"#
            guard let (config, _) = try? DockerConfig.parse(Data(json.utf8)),
                let credential = config.auths["\(host).example.com"]
            else {
                Issue.record("\(json) did not parse")
                return
            }
            #expect(credential.username == user && credential.password == password)
        }
    }
}
