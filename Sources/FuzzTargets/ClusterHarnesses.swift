import Foundation
import KubeClient
import KubeModels
import SPIFFE
import Sigstore

extension FuzzHarness {
    static let cluster: [FuzzHarness] = [
        FuzzHarness(
            name: "watch-event",
            summary: "a Kubernetes watch stream: newline-delimited {type, object} events, each object read as a run"
        ) { data in
            for line in data.split(separator: UInt8(ascii: "\n")).prefix(16) {
                guard let event = try? KubeAPIClient.event(Data(line), path: "/fuzz") else { continue }
                switch event {
                case .added(let object), .modified(let object), .deleted(let object):
                    _ = try? AnyRun(json: object, source: "fuzz")
                    _ = try? object.decode(Secret.self, source: "fuzz")
                    _ = try? object.decode(ConfigMap.self, source: "fuzz")
                case .bookmark: break
                }
            }
            return []
        },
        FuzzHarness(
            name: "jwt-svid",
            summary: "the SPIRE agent's FetchJWTSVID answer (protobuf) and the JWT-SVID it carries"
        ) { data in
            guard let jwt = try? SPIFFETokenProvider.firstSVID(serializedResponse: data) else { return [] }
            _ = try? IdentityToken(jwt: jwt, source: "fuzz")
            return []
        },
    ]
}
