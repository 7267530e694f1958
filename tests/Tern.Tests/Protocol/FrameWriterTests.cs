using System.Buffers;
using System.Text;
using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>The one frame writer: header bits, masking, RSV1, the three length forms, close payloads, checked as bytes.</summary>
public sealed class FrameWriterTests
{
    [Fact]
    public void A_server_text_frame_is_fin_opcode_length_and_the_payload()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteFrame(output, Opcode.Text, "Hello"u8);
        Assert.Equal([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_masked_frame_matches_the_rfc_6455_example()
    {
        // RFC 6455 §5.7: "A single-frame masked text message" with key 37 FA 21 3D.
        var output = new ArrayBufferWriter<byte>();
        uint key = BitConverter.ToUInt32([0x37, 0xFA, 0x21, 0x3D]);
        FrameWriter.WriteFrame(output, Opcode.Text, "Hello"u8, masked: true, maskKey: key);
        Assert.Equal([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_compressed_frame_sets_rsv1_only()
    {
        var output = new ArrayBufferWriter<byte>();
        // RFC 7692 §7.2.3.1: "Hello" compressed, without context takeover.
        FrameWriter.WriteFrame(output, Opcode.Text, [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], compressed: true);
        Assert.Equal([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_non_final_binary_frame_clears_fin()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteFrame(output, Opcode.Binary, [1, 2], fin: false);
        Assert.Equal([0x02, 0x02, 1, 2], output.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(125, 2)]
    [InlineData(126, 4)]
    [InlineData(65535, 4)]
    [InlineData(65536, 10)]
    [InlineData(200_000, 10)]
    public void Long_payloads_use_the_extended_lengths_and_survive_chunked_masking(int length, int headerLength)
    {
        byte[] payload = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        var output = new ArrayBufferWriter<byte>(16);
        FrameWriter.WriteFrame(output, Opcode.Binary, payload, masked: true, maskKey: 0x11223344);
        byte[] frame = output.WrittenSpan.ToArray();
        Assert.Equal(headerLength + 4 + length, frame.Length);
        Assert.Equal(FrameWriter.GetFrameLength(length, masked: true), frame.Length);
        var sequence = new ReadOnlySequence<byte>(frame);
        Assert.True(FrameHeader.TryRead(sequence, out FrameHeader header, out int read, out _));
        Assert.Equal(headerLength + 4, read);
        Assert.Equal(length, header.PayloadLength);
        Masking.Apply(frame.AsSpan(read), header.MaskKey, 0);
        Assert.Equal(payload, frame[read..]);
    }

    [Fact]
    public void The_span_form_writes_the_same_bytes_as_the_buffer_writer_form()
    {
        byte[] payload = Encoding.UTF8.GetBytes(new string('x', 300));
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteFrame(output, Opcode.Text, payload, compressed: true);
        var destination = new byte[FrameWriter.GetFrameLength(payload.Length, masked: false)];
        Assert.Equal(destination.Length, FrameWriter.WriteFrame(destination, Opcode.Text, payload, compressed: true));
        Assert.Equal(output.WrittenSpan.ToArray(), destination);
    }

    [Fact]
    public void A_close_carries_the_code_and_reason()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteClose(output, WebSocketCloseCode.NormalClosure, "ok");
        Assert.Equal([0x88, 0x04, 0x03, 0xE8, (byte)'o', (byte)'k'], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Code_1005_means_an_empty_close_frame()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteClose(output, WebSocketCloseCode.NoStatusReceived, "ignored");
        Assert.Equal([0x88, 0x00], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_client_close_is_masked()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteClose(output, WebSocketCloseCode.GoingAway, null, masked: true, maskKey: 0);
        Assert.Equal([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE9], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Mask_keys_vary()
    {
        MaskKeyGenerator keys = MaskKeyGenerator.Create();
        var seen = new HashSet<uint>();
        for (int i = 0; i < 1000; i++)
        {
            seen.Add(keys.Next());
        }

        Assert.True(seen.Count > 990);
    }
}
