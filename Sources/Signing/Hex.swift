import Foundation

extension Data {
    /// Lowercase hex, as digests and log IDs are written.
    package var hexString: String { map { String(format: "%02x", $0) }.joined() }

    /// Bytes from hex digits (either case); nil for an odd length or anything that is not a hex digit.
    package init?(hex: String) {
        guard hex.count % 2 == 0, hex.allSatisfy(\.isHexDigit) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
