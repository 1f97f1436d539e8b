import HTTPTransport

/// A plain transport for test set-up (pushing fixture images); shut it down when done.
package enum ChainsTestingHTTP {
    package static func transport() throws -> AsyncHTTPClientTransport { try AsyncHTTPClientTransport() }
}
