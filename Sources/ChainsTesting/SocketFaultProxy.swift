import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A byte-level proxy on a Unix socket in front of another Unix socket (the SPIFFE Workload API agent), breaking
/// connections the way a crashed, wedged or confused agent does. gRPC's framing is left alone in `.none`; every other
/// fault acts on the bytes, below HTTP/2, so what the client sees is what a real broken peer would send.
package final class SocketFaultProxy: @unchecked Sendable {
    package enum Fault: Sendable, Equatable {
        /// Forward both ways.
        case none
        /// Accept, then close at once (an agent restarting).
        case dropOnAccept
        /// Accept and read, never answer (a wedged agent).
        case hang
        /// Answer the first bytes received with bytes that are not HTTP/2, then close.
        case garbage
        /// Forward the agent's answer but cut it after `bytes` bytes (the agent dies mid-answer).
        case truncateAnswer(bytes: Int)
    }

    package let directory: TemporaryDirectory
    package var socket: String { directory.file("proxy.sock").path }
    let upstream: String
    let listener: Int32
    let state = Mutex<(fault: Fault, connections: Int, open: [Int32])>((.none, 0, []))

    package init(upstream: String) throws {
        self.upstream = upstream
        directory = try TemporaryDirectory()
        let path = directory.file("proxy.sock").path
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        listener = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    package func set(_ fault: Fault) { state.withLock { $0.fault = fault } }
    /// Connections accepted so far.
    package var connections: Int { state.withLock { $0.connections } }

    /// Stops listening and closes every connection.
    package func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        let open = state.withLock { s in
            defer { s.open = [] }
            return s.open
        }
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.prefix(raw.count - 1).enumerated() { raw[i] = b }
            raw[min(bytes.count, raw.count - 1)] = 0
        }
        return address
    }

    func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let fault = state.withLock { s in
                s.connections += 1
                s.open.append(client)
                return s.fault
            }
            Thread.detachNewThread { [self] in serve(client, fault) }
        }
    }

    func serve(_ client: Int32, _ fault: Fault) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        switch fault {
        case .dropOnAccept:
            break
        case .hang:
            while read(client, &buffer, buffer.count) > 0 {}
        case .garbage:
            _ = read(client, &buffer, buffer.count)
            let junk = Array("HTTP/1.1 400 Bad Request\r\n\r\nnot a gRPC agent\u{0}\u{7f}\u{1b}".utf8)
            _ = write(client, junk, junk.count)
        case .none, .truncateAnswer:
            var limit = Int.max
            if case .truncateAnswer(let bytes) = fault { limit = bytes }
            forward(client, answerLimit: limit)
        }
        release(client)
    }

    /// Closes `fd` and forgets it (so `stop()` never touches a number the system has handed out again).
    func release(_ fd: Int32) {
        state.withLock { s in
            s.open.removeAll { $0 == fd }
            close(fd)
        }
    }

    /// Copies both ways until the agent closes (or, for the answer, `answerLimit` bytes have passed).
    func forward(_ client: Int32, answerLimit: Int) {
        let agent = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard agent >= 0 else { return }
        var address = Self.address(upstream)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(agent, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        state.withLock { $0.open.append(agent) }
        guard connected == 0 else { return release(agent) }
        let requestsDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while true {
                let n = read(client, &buffer, buffer.count)
                guard n > 0, write(agent, buffer, n) == n else { break }
            }
            requestsDone.signal()
        }
        var buffer = [UInt8](repeating: 0, count: 16_384)
        var sent = 0
        while sent < answerLimit {
            let n = read(agent, &buffer, min(buffer.count, answerLimit - sent))
            guard n > 0, write(client, buffer, n) == n else { break }
            sent += n
        }
        // Both ends shut, the copying thread is waited for before either descriptor is closed.
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(agent, Int32(SHUT_RDWR))
        requestsDone.wait()
        release(agent)
    }
}

/// Binds a Unix socket at `path` and closes it without listening: the path stays a socket, and connections to it are
/// refused (an agent's socket whose agent is gone).
package func bindUnixSocketWithoutListener(_ path: String) throws {
    let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(fd) }
    var address = SocketFaultProxy.address(path)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
}
