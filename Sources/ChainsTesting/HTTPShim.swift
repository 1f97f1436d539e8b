import HTTPTransport

/// A plain transport for test set-up (pushing fixture images); shut it down when done.
public enum ChainsTestingHTTP {
    public static func transport() throws -> AsyncHTTPClientTransport { try AsyncHTTPClientTransport() }
}
