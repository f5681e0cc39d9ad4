#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A safetensors file (the format PyTorch, Hugging Face and tnswift share): an 8-byte
/// little-endian header length, a JSON header mapping each tensor name to its dtype, shape and
/// byte range, optional string metadata under `__metadata__`, then the tensors' bytes.
///
/// Reading validates everything before use — header length within the file, well-formed
/// JSON, dtypes, shapes whose byte sizes match their ranges, ranges inside the data and
/// covering it without overlap — so a truncated, corrupted or lying file gives a
/// `TNError.value` and never a crash, and nothing is allocated beyond the file's own size.
/// Writing is atomic: a temporary file in the same directory, flushed, then renamed.
public struct SafeTensors {
    /// One tensor's description and its bytes' position in `data`.
    public struct Entry: Sendable {
        public let dtype: DType
        public let shape: [Int]
        let range: Range<Int>
    }

    /// Tensor names and entries, in the order of their data.
    public let entries: [(name: String, entry: Entry)]
    /// The `__metadata__` strings.
    public let metadata: [(String, String)]
    /// The data section.
    let data: [UInt8]

    /// The header length the format allows (as the reference implementation).
    static let maxHeader = 100 << 20

    /// The entry named `name`, or nil.
    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name }?.entry }

    /// The metadata value for `key`, or nil.
    public func metadata(_ key: String) -> String? { metadata.first { $0.0 == key }?.1 }

    /// The values of tensor `name`, row-major.
    /// - Throws: `TNError.value` when there is no such tensor; `TNError.dtype` when its dtype
    ///   is not T's.
    public func values<T: BLASScalar>(_ name: String, as _: T.Type) throws -> [T] {
        guard let e = entry(name) else { throw TNError.value("the file has no tensor named '\(name)'") }
        guard e.dtype == T.dtype else { throw TNError.dtype("tensor '\(name)' is \(e.dtype), not \(T.dtype)") }
        let count = e.range.count / T.dtype.itemSize
        return [T](unsafeUninitializedCapacity: count) { out, n in
            data.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: raw.baseAddress! + e.range.lowerBound, byteCount: e.range.count)
            }
            n = count
        }
    }

    /// Parses a whole file's bytes.
    /// - Throws: `TNError.value` describing the first inconsistency.
    public static func parse(_ bytes: [UInt8]) throws -> SafeTensors {
        guard bytes.count >= 8 else { throw TNError.value("not a safetensors file: \(bytes.count) bytes, fewer than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(bytes.count - 8) else {
            throw TNError.value("truncated safetensors file: the header claims \(n) bytes but only \(bytes.count - 8) follow")
        }
        guard n <= UInt64(maxHeader) else { throw TNError.value("safetensors header of \(n) bytes exceeds the 100 MiB limit") }
        let headerEnd = 8 + Int(n)
        let json = try JSONValue.parse(Array(bytes[8..<headerEnd]))
        guard case .object(let members) = json else { throw TNError.value("the safetensors header is not a JSON object") }
        let dataSize = bytes.count - headerEnd
        var entries: [(String, Entry)] = []
        var metadata: [(String, String)] = []
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { throw TNError.value("__metadata__ is not an object") }
                for (k, v) in pairs {
                    guard let s = v.stringValue else { throw TNError.value("metadata '\(k)' is not a string") }
                    metadata.append((k, s))
                }
                continue
            }
            guard entries.first(where: { $0.0 == name }) == nil else { throw TNError.value("tensor '\(name)' appears twice") }
            let dtype: DType
            switch value["dtype"]?.stringValue {
            case "F32": dtype = .float32
            case "F64": dtype = .float64
            case let other?: throw TNError.value("tensor '\(name)' has dtype \(other); tnswift reads F32 and F64")
            case nil: throw TNError.value("tensor '\(name)' has no dtype")
            }
            guard let dims = value["shape"]?.arrayValue else { throw TNError.value("tensor '\(name)' has no shape") }
            let shape = try dims.map { d -> Int in
                guard let v = d.intValue, v >= 0 else { throw TNError.value("tensor '\(name)' has a bad shape entry") }
                return v
            }
            guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
                  let begin = offsets[0].intValue, let end = offsets[1].intValue, 0 <= begin, begin <= end, end <= dataSize else {
                throw TNError.value("tensor '\(name)' has data offsets outside the \(dataSize) data bytes")
            }
            var size = dtype.itemSize
            for d in shape {
                let (p, overflow) = size.multipliedReportingOverflow(by: d)
                guard !overflow, p <= dataSize else { throw TNError.value("tensor '\(name)' of shape \(shape) is larger than the file") }
                size = p
            }
            guard end - begin == size else {
                throw TNError.value("tensor '\(name)' of shape \(shape) needs \(size) bytes but its offsets span \(end - begin)")
            }
            entries.append((name, Entry(dtype: dtype, shape: shape, range: begin..<end)))
        }
        // The data is covered exactly once, in order.
        entries.sort { $0.1.range.lowerBound < $1.1.range.lowerBound }
        var position = 0
        for (name, e) in entries {
            guard e.range.lowerBound == position else {
                throw TNError.value("tensor '\(name)' starts at byte \(e.range.lowerBound) of the data, not \(position) (a gap or an overlap)")
            }
            position = e.range.upperBound
        }
        guard position == dataSize else { throw TNError.value("the data has \(dataSize - position) bytes no tensor describes") }
        return SafeTensors(entries: entries, metadata: metadata, data: Array(bytes[headerEnd...]))
    }

    /// Reads and parses the file at `path`.
    /// - Throws: `TNError.value` when it cannot be read or is not a valid file.
    public static func read(path: String) throws -> SafeTensors {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TNError.value("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TNError.value("cannot stat '\(path)'") }
        let size = Int(st.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let got = bytes.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress! + done, size - done) }
            guard got > 0 else { throw TNError.value("cannot read '\(path)' (stopped at byte \(done) of \(size))") }
            done += got
        }
        return try parse(bytes)
    }

    /// A file's bytes for `tensors` (name, dtype, shape, raw bytes) and `metadata`.
    /// - Throws: `TNError.value` for a duplicate or reserved name, or bytes that do not match
    ///   their shape.
    public static func serialize(tensors: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])],
                                 metadata: [(String, String)]) throws -> [UInt8] {
        var members: [(String, JSONValue)] = []
        if !metadata.isEmpty { members.append(("__metadata__", .object(metadata.map { ($0.0, .string($0.1)) }))) }
        var offset = 0
        for t in tensors {
            guard t.name != "__metadata__", !members.contains(where: { $0.0 == t.name }) else {
                throw TNError.value("tensor name '\(t.name)' is repeated or reserved")
            }
            let size = t.shape.reduce(t.dtype.itemSize, *)
            guard size == t.bytes.count else { throw TNError.value("tensor '\(t.name)' of shape \(t.shape) has \(t.bytes.count) bytes, not \(size)") }
            members.append((t.name, .object([("dtype", .string(t.dtype == .float32 ? "F32" : "F64")),
                                             ("shape", .array(t.shape.map { .number(Double($0)) })),
                                             ("data_offsets", .array([.number(Double(offset)), .number(Double(offset + size))]))])))
            offset += size
        }
        var header = Array(JSONValue.object(members).serialized.utf8)
        while header.count % 8 != 0 { header.append(0x20) }   // the reference pads with spaces
        var out = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) }
        out += header
        for t in tensors { out += t.bytes }
        return out
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed.
    /// - Throws: `TNError.value` when the file cannot be written (nothing is left behind).
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TNError.value("cannot create '\(temp)': \(String(cString: strerror(errno)))") }
        var done = 0
        while done < bytes.count {
            let wrote = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + done, bytes.count - done) }
            guard wrote > 0 else {
                close(fd); unlink(temp)
                throw TNError.value("cannot write '\(temp)': \(String(cString: strerror(errno)))")
            }
            done += wrote
        }
        guard fsync(fd) == 0, close(fd) == 0 else { unlink(temp); throw TNError.value("cannot flush '\(temp)'") }
        guard rename(temp, path) == 0 else {
            unlink(temp)
            throw TNError.value("cannot rename '\(temp)' to '\(path)': \(String(cString: strerror(errno)))")
        }
    }
}

/// The C library's read and write (inside `SafeTensors` the names are its own methods).
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, buffer, count) }
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
