import Foundation
import KubeClient
import KubeModels
import Logging

/// Kubernetes Events, so `kubectl describe` says what the controller did; best effort (a failure is logged).
/// Messages are the outcome's own text, which never holds a secret.
struct KubeEvents: Sendable {
    enum Kind: String { case normal = "Normal", warning = "Warning" }

    /// What an Event is about.
    struct Subject: Sendable {
        var apiVersion: String
        var kind: String
        var namespace: String
        var name: String
        var uid: String
    }

    let client: KubeAPIClient
    let logger: Logger

    func post(_ type: Kind, _ reason: String, _ message: String, about subject: Subject) async {
        let now = ISO8601DateFormatter().string(from: Date())
        let object: JSONValue = .object([
            "apiVersion": "v1", "kind": "Event",
            "metadata": .object([
                "generateName": .string("\(subject.name)."), "namespace": .string(subject.namespace),
            ]),
            "involvedObject": .object([
                "apiVersion": .string(subject.apiVersion), "kind": .string(subject.kind),
                "name": .string(subject.name), "namespace": .string(subject.namespace), "uid": .string(subject.uid),
            ]),
            "type": .string(type.rawValue), "reason": .string(reason), "message": .string(String(message.prefix(1024))),
            "source": .object(["component": "tekton-chains"]), "reportingComponent": "tekton-chains",
            "firstTimestamp": .string(now), "lastTimestamp": .string(now), "count": .number(1),
        ])
        do {
            _ = try await client.create(.events, namespace: subject.namespace, object)
        } catch {
            logger.debug("event for \(subject.namespace)/\(subject.name) not written: \(error)")
        }
    }
}
