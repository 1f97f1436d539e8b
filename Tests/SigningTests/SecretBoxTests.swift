import Foundation
import Testing

@testable import Signing

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

func hexString(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

@Suite("NaCl secretbox and Poly1305")
struct SecretBoxTests {
    // The NaCl distribution's tests/secretbox.c vector (also what PyNaCl produces for these inputs).
    let key = hex("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389")
    let nonce = hex("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37")
    let message = hex(
        "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705"
    )
    let box =
        "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5"

    @Test("seal matches the published NaCl secretbox vector")
    func sealVector() {
        #expect(hexString(SecretBox.seal(message, nonce: nonce, key: key)) == box)
    }

    @Test("open recovers the message of the NaCl vector")
    func openVector() {
        #expect(SecretBox.open(hex(box), nonce: nonce, key: key) == message)
    }

    @Test("open rejects a flipped bit in the tag or the ciphertext, and a wrong key")
    func openRejectsTampering() {
        var damaged = hex(box)
        damaged[3] ^= 1
        #expect(SecretBox.open(damaged, nonce: nonce, key: key) == nil)
        damaged = hex(box)
        damaged[100] ^= 0x80
        #expect(SecretBox.open(damaged, nonce: nonce, key: key) == nil)
        var otherKey = key
        otherKey[0] ^= 1
        #expect(SecretBox.open(hex(box), nonce: nonce, key: otherKey) == nil)
    }

    @Test("Poly1305 matches RFC 8439 §2.5.2")
    func poly1305RFC8439() {
        let tag = Poly1305.tag(
            Array("Cryptographic Forum Research Group".utf8),
            key: hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"))
        #expect(hexString(tag) == "a8061dc1305136c6c22b8baf0c0127a9")
    }

    @Test(
        "seal then open round-trips every length around block boundaries",
        arguments: [0, 1, 15, 16, 17, 63, 64, 65, 200])
    func roundTrip(length: Int) {
        let m = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let sealed = SecretBox.seal(m, nonce: nonce, key: key)
        #expect(sealed.count == length + 16)
        #expect(SecretBox.open(sealed, nonce: nonce, key: key) == m)
    }
}
