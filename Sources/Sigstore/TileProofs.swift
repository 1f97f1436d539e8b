import Foundation

/// RFC 6962 inclusion proofs from a C2SP tlog-tiles log (Rekor v2 serves no proof API, only tiles): a tile at level
/// `L`, index `N` holds up to 256 hashes of the tree's level `8·L` nodes `256·N ..< 256·N + W`; a node higher up is
/// computed from the (at most 128) hashes of its tile level below it. Tiles are read once per proof.
package struct TileProofs {
    /// Reads the hashes of tile (`level`, `index`), `width` of them (256 for a full tile).
    package typealias TileReader = (_ level: UInt64, _ index: UInt64, _ width: UInt64) async throws -> [Data]

    let size: UInt64
    let read: TileReader
    var tiles: [String: [Data]] = [:]

    package init(size: UInt64, read: @escaping TileReader) {
        self.size = size
        self.read = read
    }

    /// The C2SP path of a tile index: groups of three digits, all but the last prefixed with `x` (1234067 →
    /// `x001/x234/067`).
    package static func path(_ index: UInt64) -> String {
        var groups: [String] = []
        var n = index
        repeat {
            groups.insert(String(format: "%03llu", n % 1000), at: 0)
            n /= 1000
        } while n > 0
        return groups.enumerated().map { $0.offset < groups.count - 1 ? "x" + $0.element : $0.element }
            .joined(separator: "/")
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 `PATH`).
    package mutating func inclusionProof(index: UInt64) async throws -> [Data] {
        try await path(index, 0, size)
    }

    mutating func path(_ m: UInt64, _ low: UInt64, _ high: UInt64) async throws -> [Data] {
        guard high - low > 1 else { return [] }
        let k = Self.split(high - low)
        if m - low < k { return try await path(m, low, low + k) + [hash(low + k, high)] }
        return try await path(m, low + k, high) + [hash(low, low + k)]
    }

    /// RFC 6962 `MTH` of leaves `low ..< high`, where `low` is aligned to the largest power of two below the count.
    mutating func hash(_ low: UInt64, _ high: UInt64) async throws -> Data {
        let count = high - low
        if count & (count - 1) == 0 {
            let level = UInt64(count.trailingZeroBitCount)
            return try await node(level: level, index: low >> level)
        }
        let k = Self.split(count)
        return Merkle.nodeHash(try await hash(low, low + k), try await hash(low + k, high))
    }

    /// The hash of the complete subtree at tree level `level`, position `index`.
    mutating func node(level: UInt64, index: UInt64) async throws -> Data {
        let tileLevel = level / 8
        let depth = level % 8
        let first = index << depth
        let tileIndex = first / 256
        let nodesAtLevel = size >> (tileLevel * 8)
        let width = min(256, nodesAtLevel - tileIndex * 256)
        let key = "\(tileLevel)/\(tileIndex)/\(width)"
        let hashes: [Data]
        if let cached = tiles[key] {
            hashes = cached
        } else {
            hashes = try await read(tileLevel, tileIndex, width)
            tiles[key] = hashes
        }
        let start = Int(first - tileIndex * 256)
        let end = start + (1 << Int(depth))
        guard end <= hashes.count else { throw TileError("tile \(key) holds \(hashes.count) hashes, not \(end)") }
        var row = Array(hashes[start..<end])
        while row.count > 1 {
            row = stride(from: 0, to: row.count, by: 2).map { Merkle.nodeHash(row[$0], row[$0 + 1]) }
        }
        return row[0]
    }

    /// The largest power of two smaller than `n` (n > 1).
    static func split(_ n: UInt64) -> UInt64 {
        var k: UInt64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    struct TileError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
