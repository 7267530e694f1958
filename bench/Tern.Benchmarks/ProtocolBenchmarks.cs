using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Tern;
using Tern.Protocol;

namespace Tern.Benchmarks;

/// <summary>The sans-I/O pieces, one operation each.</summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private static readonly byte[] ChromeRequest = Encoding.ASCII.GetBytes(
        "GET /chat?room=lobby HTTP/1.1\r\nHost: localhost:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\n" +
        "Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n" +
        "Upgrade: websocket\r\nOrigin: http://localhost:8080\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" +
        "Accept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n");

    private readonly ArrayBufferWriter<byte> _response = new(512);
    private byte[] _smallFrame = [];
    private byte[] _largeFrame = [];
    private byte[] _headers = [];
    private readonly byte[] _buffer64K = new byte[64 * 1024];
    private readonly byte[] _copy64K = new byte[64 * 1024];
    private byte[] _ascii64K = [];
    private byte[] _mixed64K = [];
    private WebSocketDecoder _decoder = null!;

    [GlobalSetup]
    public void Setup()
    {
        _smallFrame = MaskedFrame(Opcode.Text, Encoding.UTF8.GetBytes(new string('x', 32)));
        _largeFrame = MaskedFrame(Opcode.Binary, new byte[64 * 1024]);
        _headers = [.. MaskedFrame(Opcode.Text, new byte[10]).AsSpan(0, 6), .. MaskedFrame(Opcode.Binary, new byte[300]).AsSpan(0, 8), .. MaskedFrame(Opcode.Binary, new byte[70000]).AsSpan(0, 14)];
        _ascii64K = Encoding.ASCII.GetBytes(new string('a', 64 * 1024));
        _mixed64K = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("κόσμε hello — ✓ ", 4000)))[..(64 * 1024 - 8)];
        _decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 1 << 20);
    }

    private static byte[] MaskedFrame(Opcode opcode, byte[] payload)
    {
        int header = FrameHeader.GetLength(payload.Length, masked: true);
        var frame = new byte[header + payload.Length];
        FrameHeader.Write(frame, opcode, fin: true, payload.Length, masked: true, maskKey: 0x1234_5678);
        Masking.Apply(payload, frame.AsSpan(header), 0x1234_5678, 0);
        return frame;
    }

    [Benchmark(Description = "handshake: parse + validate + 101")]
    public int Handshake()
    {
        var parser = new HttpRequestParser();
        parser.TryParse(new ReadOnlySequence<byte>(ChromeRequest), out _, out HttpRequestHead? request, out _);
        Tern.Protocol.Handshake.Validate(request!);
        _response.ResetWrittenCount();
        Tern.Protocol.Handshake.WriteAccept(_response, request!.Headers["Sec-WebSocket-Key"]!, null);
        return _response.WrittenCount;
    }

    [Benchmark(Description = "frame headers: 7-, 16-, 64-bit forms")]
    public long FrameHeaders()
    {
        var input = new ReadOnlySequence<byte>(_headers);
        long total = 0;
        for (int i = 0; i < 3; i++)
        {
            FrameHeader.TryRead(input, out FrameHeader header, out int length, out _);
            total += header.PayloadLength;
            input = input.Slice(length);
        }

        return total;
    }

    [Benchmark(Description = "unmask 64 KiB in place")]
    public int Unmask64K() => Masking.Apply(_buffer64K, 0x1234_5678, 0);

    [Benchmark(Baseline = true, Description = "memory copy 64 KiB")]
    public void Copy64K() => _buffer64K.AsSpan().CopyTo(_copy64K);

    [Benchmark(Description = "UTF-8 validate 64 KiB ASCII")]
    public bool ValidateAscii()
    {
        var validator = default(Utf8Validator);
        return validator.TryValidate(_ascii64K) && validator.IsComplete;
    }

    [Benchmark(Description = "UTF-8 validate 64 KiB mixed")]
    public bool ValidateMixed()
    {
        var validator = default(Utf8Validator);
        return validator.TryValidate(_mixed64K);
    }

    [Benchmark(Description = "receive path: one 32 B masked text message")]
    public int DecodeSmall()
    {
        var input = new ReadOnlySequence<byte>(_smallFrame);
        return _decoder.Read(ref input).Payload.Length;
    }

    [Benchmark(Description = "receive path: one 64 KiB masked binary message")]
    public int DecodeLarge()
    {
        var input = new ReadOnlySequence<byte>(_largeFrame);
        return _decoder.Read(ref input).Payload.Length;
    }
}
