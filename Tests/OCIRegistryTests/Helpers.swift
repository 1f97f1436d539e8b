import Foundation
import KubeModels
import OCI
import Provenance

enum ManifestReaderShim {
    static func parse(_ yaml: String) throws -> [JSONValue] {
        try ManifestReader.parse(Data(yaml.utf8), source: "test").documents
    }
    static func run(_ yaml: String) throws -> TaskRun {
        try TaskRun(json: try parse(yaml)[0], source: "test")
    }
}

func Formats_simpleSigning(_ image: ImageReference) -> Data { Formats.simpleSigning(image) }
