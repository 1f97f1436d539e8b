import Logging
import Synchronization

/// Every log line a test's code writes (level, message, metadata), for scanning: the fault suite checks that no
/// secret appears in any of them.
package final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    package init() {}

    package var all: [String] { lines.withLock { $0 } }

    /// A logger that writes here, at `level` and above.
    package func logger(_ label: String = "chains.test", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in Handler(log: self) }
        logger.logLevel = level
        return logger
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let line = "\(event.level) \(event.message) \(merged.map { "\($0.key)=\($0.value)" }.sorted())"
            log.lines.withLock { $0.append(line) }
        }
    }
}
