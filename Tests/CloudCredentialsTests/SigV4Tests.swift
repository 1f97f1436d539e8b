import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import OCI
import RegistryAuth
import Synchronization
import Testing

@testable import CloudCredentials

/// SigV4 against botocore's `SigV4Auth` (the AWS SDK for Python's signer) and AWS's published suite.
@Suite("SigV4: botocore's signatures, AWS's test suite")
struct SigV4Tests {
    let when = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z, the suite's date
    let key = AWSCredentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", origin: "test")

    @Test("AWS's get-vanilla: the published signature")
    func vanilla() {
        var request = HTTPRequest(method: "GET", url: URL(string: "https://example.amazonaws.com/")!)
        SigV4.sign(&request, service: "service", region: "us-east-1", credentials: key, date: when)
        #expect(
            request.headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, "
                + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    /// The requests we make (ECR's and KMS's JSON protocol, STS's form) and the corners of canonicalisation.
    static let cases: [(String, String, [(String, String)], String, String, String?)] = [
        (
            "POST", "https://api.ecr.us-east-1.amazonaws.com/",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
            ], #"{"registryIds":["123456789012"]}"#, "ecr", "session-token/with+plus=="
        ),
        (
            "POST", "http://127.0.0.1:4566/",
            [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.Sign")],
            #"{"KeyId":"alias/chains","Message":"aGk=","MessageType":"DIGEST"}"#, "kms", nil
        ),
        ("GET", "https://sts.amazonaws.com/?Version=2011-06-15&Action=GetCallerIdentity", [], "", "sts", nil),
        ("GET", "https://example.amazonaws.com/?b=2&a=3&a=1&c=x%20y&d=%E2%9C%93&e=~-_.", [], "", "service", nil),
        (
            "GET", "https://example.amazonaws.com/a%20b/c~d/", [("My-Header", "  two   spaces  here ")], "", "service",
            nil
        ),
        (
            "PUT", "https://example.amazonaws.com:8443/x", [("X-Amz-Meta-A", "1"), ("x-amz-meta-a", "2")], "body",
            "service", "t"
        ),
    ]

    @Test("our signature equals botocore's, header for header", arguments: 0..<cases.count)
    func againstBotocore(index: Int) async throws {
        let (method, url, headers, body, service, token) = Self.cases[index]
        var credentials = key
        credentials.sessionToken = token
        var request = HTTPRequest(
            method: method, url: URL(string: url)!, headers: HTTPHeaders(headers), body: Data(body.utf8))
        SigV4.sign(&request, service: service, region: "us-east-1", credentials: credentials, date: when)
        let spec: [String: Any] = [
            "method": method, "url": url, "headers": headers.map { [$0.0, $0.1] },
            "body": Data(body.utf8).base64EncodedString(), "service": service, "region": "us-east-1",
            "access_key": key.accessKeyID, "secret_key": key.secretAccessKey, "token": token as Any,
            "time": "20150830T123600Z",
        ]
        let result = try await Python.runAWS(
            "sigv4_sign.py", [], stdin: try JSONSerialization.data(withJSONObject: spec))
        #expect(result.status == 0, "\(result.stderr)")
        let botocore = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(request.headers["Authorization"] == botocore["Authorization"] as? String, "\(url)")
        #expect(request.headers["X-Amz-Date"] == botocore["X-Amz-Date"] as? String)
        #expect(request.headers["X-Amz-Security-Token"] == botocore["X-Amz-Security-Token"] as? String)
    }

    @Test("EKS Pod Identity: plain http only to the agent's addresses or loopback; nothing sent elsewhere")
    func podIdentityHosts() async throws {
        for uri in ["http://credentials.example.com/v1/credentials", "http://10.0.0.7/creds"] {
            let chain = try #require(
                AWSCredentialChain(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri], transport: NoTransport()))
            await #expect {
                _ = try await chain.credentials()
            } throws: { "\($0)".contains("plain http is allowed only to the Pod Identity agent or loopback") }
        }
    }

    @Test("ECR hosts: standard, FIPS, China; anything else is not ECR")
    func ecrHosts() {
        let standard = ECRRegistry(host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        #expect(standard?.account == "123456789012" && standard?.region == "eu-west-1")
        #expect(standard?.apiEndpoint == "https://api.ecr.eu-west-1.amazonaws.com")
        #expect(
            ECRRegistry(host: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com")?.apiEndpoint
                == "https://ecr-fips.us-gov-west-1.amazonaws.com")
        #expect(
            ECRRegistry(host: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")?.apiEndpoint
                == "https://api.ecr.cn-north-1.amazonaws.com.cn")
        #expect(ECRRegistry(host: "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000")?.region == "us-east-1")
        for other in [
            "gcr.io", "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io",
            "123456789012.dkr.ecr.us-east-1.evil.com", "abcdefghijkl.dkr.ecr.us-east-1.amazonaws.com",
            "public.ecr.aws", "123456789012.dkr.ecr..amazonaws.com", "123456789012.dkr.ecr.us_east-1.amazonaws.com",
            // The fuzzer's find: a region that makes no URL.
            "123456789012.dkr.ecr-fips.us-gov-w\u{FFFD}\u{FFFD}.amazonaws.com",
            "١٢٣٤٥٦٧٨٩٠١٢.dkr.ecr.us-east-1.amazonaws.com",
        ] {
            #expect(ECRRegistry(host: other) == nil, "\(other)")
        }
    }

    @Test("which credentials the environment names, in the SDKs' order; none: no ECR keychain")
    func chainSources() {
        let none = NoTransport()
        #expect(AWSCredentialChain(environment: [:], transport: none) == nil)
        #expect(CloudKeychains.make(environment: ["HOME": "/root"], transport: none).map(\.name) == ["GCR"])
        #expect(CloudKeychains.configured(["HOME": "/root"]).isEmpty, "nothing named, nothing noted")
        let env = AWSCredentialChain(
            environment: [
                "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ROLE_ARN": "r",
                "AWS_WEB_IDENTITY_TOKEN_FILE": "/t",
            ], transport: none)
        #expect(env?.source == .environment)
        let irsa = AWSCredentialChain(
            environment: ["AWS_ROLE_ARN": "arn:aws:iam::1:role/r", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"], transport: none
        )
        #expect(
            irsa?.source
                == .webIdentity(roleARN: "arn:aws:iam::1:role/r", tokenFile: "/t", sessionName: "chains-in-swift"))
        #expect(irsa?.identity == "IAM role arn:aws:iam::1:role/r (web identity, IRSA)")
        let pod = AWSCredentialChain(
            environment: [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE":
                    "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token",
            ],
            transport: none)
        #expect(pod?.identity == "EKS Pod Identity (http://169.254.170.23/v1/credentials)")
        let keychain = CloudKeychains.make(
            environment: ["AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s"], transport: none)
        #expect(keychain.map(\.name) == ["ECR", "GCR"])
        #expect(keychain[0].handles(registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com"))
        #expect(!keychain[0].handles(registry: "ghcr.io") && !keychain[0].handles(registry: "gcr.io"))
    }
}

/// Answers GetAuthorizationToken as ECR documents it, counting requests and the hosts they went to.
final class ECRDouble: HTTPTransport, Sendable {
    let lifetime: TimeInterval
    let seen = Mutex<[String]>([])
    init(lifetime: TimeInterval) { self.lifetime = lifetime }
    var hosts: [String] { seen.withLock { $0 } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        seen.withLock { $0.append(request.url.hostAndPort) }
        let token = Data("AWS:password-\(hosts.count)".utf8).base64EncodedString()
        let body: [String: Any] = [
            "authorizationData": [
                [
                    "authorizationToken": token, "expiresAt": Date().addingTimeInterval(lifetime).timeIntervalSince1970,
                    "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
                ]
            ]
        ]
        return HTTPResponse(
            status: 200, headers: ["Content-Type": "application/x-amz-json-1.1"],
            body: try JSONSerialization.data(withJSONObject: body), url: request.url)
    }
}

@Suite("ECR tokens: kept until near their expiry, asked for ECR hosts only")
struct ECRTokenTests {
    let environment = ["AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"]
    let registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"

    @Test("a 12-hour token is asked once; one with less than five minutes left is asked again")
    func caching() async throws {
        for (lifetime, requests) in [(43_200.0, 1), (120.0, 2)] {
            let ecr = ECRDouble(lifetime: lifetime)
            let keychain = ECRKeychain(
                chain: AWSCredentialChain(environment: environment, transport: ecr)!, transport: ecr)
            let first = try #require(try await keychain.credential(for: registry))
            let second = try #require(try await keychain.credential(for: registry))
            #expect(ecr.hosts.count == requests, "lifetime \(lifetime)")
            #expect(first.credential.username == "AWS" && first.credential.password == "password-1")
            #expect(second.credential.password == "password-\(requests)")
            #expect(ecr.hosts.allSatisfy { $0 == "api.ecr.us-east-1.amazonaws.com" }, "\(ecr.hosts)")
        }
    }

    @Test("a kept token is asked again once less than five minutes of it are left")
    func nearExpiry() async throws {
        let ecr = ECRDouble(lifetime: 43_200)
        let keychain = ECRKeychain(chain: AWSCredentialChain(environment: environment, transport: ecr)!, transport: ecr)
        _ = try await keychain.credential(for: registry, now: Date())
        _ = try await keychain.credential(for: registry, now: Date().addingTimeInterval(43_200 - 600))
        #expect(ecr.hosts.count == 1, "ten minutes left: kept")
        _ = try await keychain.credential(for: registry, now: Date().addingTimeInterval(43_200 - 120))
        #expect(ecr.hosts.count == 2, "two minutes left: asked again")
    }

    @Test(
        "the credential search asks the ECR keychain for ECR images only; its credential is offered after the docker config"
    )
    func onlyForItsHosts() async throws {
        let ecr = ECRDouble(lifetime: 43_200)
        let keychain = ECRKeychain(chain: AWSCredentialChain(environment: environment, transport: ecr)!, transport: ecr)
        let local = LocalDockerConfig(
            path: "cfg", config: DockerConfig(auths: [registry: Credential(username: "local", password: "x")]))
        let search = CredentialSearch(dockerConfig: local, cloud: [keychain]).keychain(
            for: RunCredentialScope(namespace: "ci", serviceAccount: "", podTemplatePullSecrets: []),
            objects: NoObjects())
        let other = await search.resolve(try ImageReference(parsingRepository: "ghcr.io/team/app"))
        #expect(ecr.hosts.isEmpty, "the ECR keychain was asked for ghcr.io")
        #expect(other.candidates.map(\.source.kind) == [.anonymous])
        let mine = await search.resolve(try ImageReference(parsingRepository: "\(registry)/team/app"))
        #expect(mine.candidates.map(\.source.kind) == [.dockerConfig, .cloudKeychain, .anonymous])
        #expect(CredentialSearch.placement(mine.candidates)[1].hasPrefix("source 6 (cloud keychain)"))
    }
}

struct NoObjects: ClusterObjects {
    func secret(namespace: String, name: String) async throws -> Secret? { nil }
    func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount? { nil }
    func pod(namespace: String, name: String) async throws -> Pod? { nil }
}
