/// `mongodb+srv://` (MongoDB's Initial DNS Seedlist Discovery): the hosts are the SRV records of
/// `_<srvServiceName>._tcp.<host>`, each of which must lie under the host's parent domain (a record pointing
/// elsewhere refuses the whole list — DNS is not trusted to send credentials anywhere else); at most one TXT record
/// at `<host>` may add `authSource` and `replicaSet`. TLS is on unless the string turns it off.
package enum MongoSRV {
    package static func resolve(
        _ url: MongoConnectionString, resolver: DNSResolver
    ) async throws(MongoError) -> MongoConnectionString {
        guard url.srv, let name = url.hosts.first?.name else { return url }
        let parent = name.split(separator: ".").dropFirst().joined(separator: ".")
        let service = "_\(url.srvServiceName)._tcp.\(name)"
        var hosts: [MongoConnectionString.Host] = []
        for record in try await resolver.query(service, type: DNSMessage.srv) {
            guard case .srv(_, _, let port, let target) = record else { continue }
            let host = target.hasSuffix(".") ? String(target.dropLast()) : target
            guard host.hasSuffix("." + parent), host.count > parent.count + 1 else {
                throw MongoError(
                    .failed,
                    "mongodb+srv://\(name): the SRV record \(service) names \(host), which is not under \(parent); refused (a seed list may only name hosts under its own domain)"
                )
            }
            hosts.append(MongoConnectionString.Host(name: host, port: Int(port)))
        }
        guard !hosts.isEmpty else {
            throw MongoError(.unavailable, "mongodb+srv://\(name): DNS has no SRV record \(service)")
        }
        var resolved = url
        resolved.hosts = hosts
        let texts = try await resolver.query(name, type: DNSMessage.txt).compactMap { record -> String? in
            if case .txt(let strings) = record { return strings.joined() }
            return nil
        }
        guard texts.count <= 1 else {
            throw MongoError(
                .failed, "mongodb+srv://\(name): DNS has \(texts.count) TXT records; a seed list allows one")
        }
        if let text = texts.first {
            do {
                try resolved.applyTXT(text)
            } catch {
                throw MongoError(.failed, "mongodb+srv://\(name) \(error.reason)")
            }
        }
        return resolved
    }
}
