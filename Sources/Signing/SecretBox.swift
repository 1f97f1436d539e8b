/// NaCl `crypto_secretbox` (XSalsa20 + Poly1305), which the sigstore encrypted key format uses and swift-crypto
/// does not provide. Small and direct; checked against the published NaCl vectors and PyNaCl in the tests.
package enum SecretBox {
    package static let keyLength = 32
    package static let nonceLength = 24
    package static let tagLength = 16

    /// `tag || ciphertext`, as Go's `secretbox.Seal(nil, …)` returns it.
    package static func seal(_ message: [UInt8], nonce: [UInt8], key: [UInt8]) -> [UInt8] {
        precondition(nonce.count == nonceLength && key.count == keyLength)
        var stream = XSalsa20(key: key, nonce: nonce)
        let polyKey = stream.next(32)
        var ciphertext = message
        stream.xor(&ciphertext)
        return Poly1305.tag(ciphertext, key: polyKey) + ciphertext
    }

    /// Opens `tag || ciphertext`; nil when the tag does not verify (wrong key or damaged data).
    package static func open(_ box: [UInt8], nonce: [UInt8], key: [UInt8]) -> [UInt8]? {
        guard box.count >= tagLength, nonce.count == nonceLength, key.count == keyLength else { return nil }
        var stream = XSalsa20(key: key, nonce: nonce)
        let polyKey = stream.next(32)
        let tag = Array(box[0..<tagLength])
        var data = Array(box[tagLength...])
        let expected = Poly1305.tag(data, key: polyKey)
        var diff: UInt8 = 0
        for i in 0..<tagLength { diff |= tag[i] ^ expected[i] }
        guard diff == 0 else { return nil }
        stream.xor(&data)
        return data
    }
}

@inline(__always) private func rotl(_ v: UInt32, _ n: UInt32) -> UInt32 { (v << n) | (v >> (32 - n)) }

@inline(__always) private func load32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}

enum Salsa20 {
    static let sigma: [UInt32] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]  // "expand 32-byte k"

    /// The 20 rounds over a 16-word state (without the final addition).
    static func rounds(_ x: inout [UInt32]) {
        for _ in 0..<10 {
            x[4] ^= rotl(x[0] &+ x[12], 7); x[8] ^= rotl(x[4] &+ x[0], 9)
            x[12] ^= rotl(x[8] &+ x[4], 13); x[0] ^= rotl(x[12] &+ x[8], 18)
            x[9] ^= rotl(x[5] &+ x[1], 7); x[13] ^= rotl(x[9] &+ x[5], 9)
            x[1] ^= rotl(x[13] &+ x[9], 13); x[5] ^= rotl(x[1] &+ x[13], 18)
            x[14] ^= rotl(x[10] &+ x[6], 7); x[2] ^= rotl(x[14] &+ x[10], 9)
            x[6] ^= rotl(x[2] &+ x[14], 13); x[10] ^= rotl(x[6] &+ x[2], 18)
            x[3] ^= rotl(x[15] &+ x[11], 7); x[7] ^= rotl(x[3] &+ x[15], 9)
            x[11] ^= rotl(x[7] &+ x[3], 13); x[15] ^= rotl(x[11] &+ x[7], 18)
            x[1] ^= rotl(x[0] &+ x[3], 7); x[2] ^= rotl(x[1] &+ x[0], 9)
            x[3] ^= rotl(x[2] &+ x[1], 13); x[0] ^= rotl(x[3] &+ x[2], 18)
            x[6] ^= rotl(x[5] &+ x[4], 7); x[7] ^= rotl(x[6] &+ x[5], 9)
            x[4] ^= rotl(x[7] &+ x[6], 13); x[5] ^= rotl(x[4] &+ x[7], 18)
            x[11] ^= rotl(x[10] &+ x[9], 7); x[8] ^= rotl(x[11] &+ x[10], 9)
            x[9] ^= rotl(x[8] &+ x[11], 13); x[10] ^= rotl(x[9] &+ x[8], 18)
            x[12] ^= rotl(x[15] &+ x[14], 7); x[13] ^= rotl(x[12] &+ x[15], 9)
            x[14] ^= rotl(x[13] &+ x[12], 13); x[15] ^= rotl(x[14] &+ x[13], 18)
        }
    }

    static func initialState(key: [UInt8], input: [UInt8]) -> [UInt32] {
        [
            sigma[0], load32(key, 0), load32(key, 4), load32(key, 8), load32(key, 12), sigma[1],
            load32(input, 0), load32(input, 4), load32(input, 8), load32(input, 12), sigma[2],
            load32(key, 16), load32(key, 20), load32(key, 24), load32(key, 28), sigma[3],
        ]
    }

    /// HSalsa20: derives XSalsa20's subkey from the key and the first 16 nonce bytes.
    static func hsalsa20(key: [UInt8], input: [UInt8]) -> [UInt8] {
        var x = initialState(key: key, input: input)
        rounds(&x)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for i in [0, 5, 10, 15, 6, 7, 8, 9] {
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: x[i] >> UInt32(shift))) }
        }
        return out
    }

    static func block(key: [UInt8], nonce8: [UInt8], counter: UInt64) -> [UInt8] {
        var input = nonce8
        for shift in stride(from: 0, to: 64, by: 8) {
            input.append(UInt8(truncatingIfNeeded: counter >> UInt64(shift)))
        }
        let initial = initialState(key: key, input: input)
        var x = initial
        rounds(&x)
        var out = [UInt8](repeating: 0, count: 64)
        for i in 0..<16 {
            let v = x[i] &+ initial[i]
            out[4 * i] = UInt8(truncatingIfNeeded: v)
            out[4 * i + 1] = UInt8(truncatingIfNeeded: v >> 8)
            out[4 * i + 2] = UInt8(truncatingIfNeeded: v >> 16)
            out[4 * i + 3] = UInt8(truncatingIfNeeded: v >> 24)
        }
        return out
    }
}

/// XSalsa20 key stream, consumed in order.
struct XSalsa20 {
    let subkey: [UInt8]
    let nonce8: [UInt8]
    var counter: UInt64 = 0
    var buffer: [UInt8] = []
    var offset = 0

    init(key: [UInt8], nonce: [UInt8]) {
        subkey = Salsa20.hsalsa20(key: key, input: Array(nonce[0..<16]))
        nonce8 = Array(nonce[16..<24])
    }

    mutating func nextByte() -> UInt8 {
        if offset == buffer.count {
            buffer = Salsa20.block(key: subkey, nonce8: nonce8, counter: counter)
            counter += 1
            offset = 0
        }
        defer { offset += 1 }
        return buffer[offset]
    }

    mutating func next(_ n: Int) -> [UInt8] { (0..<n).map { _ in nextByte() } }

    mutating func xor(_ data: inout [UInt8]) {
        for i in data.indices { data[i] ^= nextByte() }
    }
}

/// Poly1305 one-time authenticator (RFC 8439 §2.5), 26-bit limbs.
enum Poly1305 {
    static func tag(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        let r0 = UInt64(load32(key, 0)) & 0x3ff_ffff
        let r1 = UInt64(load32(key, 3) >> 2) & 0x3ff_ff03
        let r2 = UInt64(load32(key, 6) >> 4) & 0x3ff_c0ff
        let r3 = UInt64(load32(key, 9) >> 6) & 0x3f0_3fff
        let r4 = UInt64(load32(key, 12) >> 8) & 0x00f_ffff
        let s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5
        var h0: UInt64 = 0, h1: UInt64 = 0, h2: UInt64 = 0, h3: UInt64 = 0, h4: UInt64 = 0

        var i = 0
        while i < message.count {
            var block = [UInt8](repeating: 0, count: 17)
            let n = min(16, message.count - i)
            for j in 0..<n { block[j] = message[i + j] }
            block[n] = 1
            let hibit = n == 16 ? UInt64(1 << 24) : 0
            if n < 16 { block[16] = 0 }
            h0 += UInt64(load32(block, 0)) & 0x3ff_ffff
            h1 += UInt64(load32(block, 3) >> 2) & 0x3ff_ffff
            h2 += UInt64(load32(block, 6) >> 4) & 0x3ff_ffff
            h3 += UInt64(load32(block, 9) >> 6) & 0x3ff_ffff
            h4 += (UInt64(load32(block, 12) >> 8) & 0x0ff_ffff) | (n == 16 ? hibit : UInt64(block[16]) << 24)
            if n < 16 {
                // The 0x01 pad byte was placed inside the 16 bytes; no extra high bit.
            }
            let d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1
            var d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2
            var d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3
            var d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4
            var d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0
            var c = d0 >> 26
            h0 = d0 & 0x3ff_ffff
            d1 += c; c = d1 >> 26; h1 = d1 & 0x3ff_ffff
            d2 += c; c = d2 >> 26; h2 = d2 & 0x3ff_ffff
            d3 += c; c = d3 >> 26; h3 = d3 & 0x3ff_ffff
            d4 += c; c = d4 >> 26; h4 = d4 & 0x3ff_ffff
            h0 += c * 5; c = h0 >> 26; h0 &= 0x3ff_ffff
            h1 += c
            i += 16
        }

        // Full carry, then compute h - p and select.
        var c = h1 >> 26; h1 &= 0x3ff_ffff
        h2 += c; c = h2 >> 26; h2 &= 0x3ff_ffff
        h3 += c; c = h3 >> 26; h3 &= 0x3ff_ffff
        h4 += c; c = h4 >> 26; h4 &= 0x3ff_ffff
        h0 += c * 5; c = h0 >> 26; h0 &= 0x3ff_ffff
        h1 += c

        var g0 = h0 &+ 5; c = g0 >> 26; g0 &= 0x3ff_ffff
        var g1 = h1 &+ c; c = g1 >> 26; g1 &= 0x3ff_ffff
        var g2 = h2 &+ c; c = g2 >> 26; g2 &= 0x3ff_ffff
        var g3 = h3 &+ c; c = g3 >> 26; g3 &= 0x3ff_ffff
        let g4 = h4 &+ c &- (1 << 26)
        let mask = (g4 >> 63) &- 1  // all ones when g4 did not underflow (h >= p)
        h0 = (h0 & ~mask) | (g0 & mask)
        h1 = (h1 & ~mask) | (g1 & mask)
        h2 = (h2 & ~mask) | (g2 & mask)
        h3 = (h3 & ~mask) | (g3 & mask)
        h4 = (h4 & ~mask) | (g4 & mask & 0x3ff_ffff)

        // h mod 2^128 + s
        var f0 = ((h0) | (h1 << 26)) & 0xffff_ffff
        var f1 = ((h1 >> 6) | (h2 << 20)) & 0xffff_ffff
        var f2 = ((h2 >> 12) | (h3 << 14)) & 0xffff_ffff
        var f3 = ((h3 >> 18) | (h4 << 8)) & 0xffff_ffff
        f0 += UInt64(load32(key, 16)); c = f0 >> 32
        f1 += UInt64(load32(key, 20)) + c; c = f1 >> 32
        f2 += UInt64(load32(key, 24)) + c; c = f2 >> 32
        f3 += UInt64(load32(key, 28)) + c
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for f in [f0, f1, f2, f3] {
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: f >> UInt64(shift))) }
        }
        return out
    }
}
