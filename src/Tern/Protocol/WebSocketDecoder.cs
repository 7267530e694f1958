using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Tern.Protocol;

/// <summary>What <see cref="WebSocketDecoder.Read"/> produced.</summary>
public enum ProtocolEventType
{
    /// <summary>All input was consumed without completing anything: call again with more bytes.</summary>
    NeedMoreData,
    /// <summary>A complete data message (<see cref="ProtocolEvent.MessageKind"/>, <see cref="ProtocolEvent.Payload"/>).</summary>
    Message,
    /// <summary>
    /// Part of a data message read in streaming mode (<see cref="WebSocketDecoder.StreamMessages"/>): the next bytes of
    /// its payload as they arrived (unmasked, inflated, UTF-8 checked so far), and whether they are its last
    /// (<see cref="ProtocolEvent.EndOfMessage"/>). A message gives at least one; only the last may be empty.
    /// </summary>
    MessageData,
    /// <summary>A ping: answer it with a pong carrying the same payload.</summary>
    Ping,
    /// <summary>A pong (solicited or not).</summary>
    Pong,
    /// <summary>
    /// The peer's close frame (<see cref="ProtocolEvent.CloseCode"/>, <see cref="ProtocolEvent.Reason"/>; 1005 when the
    /// frame had no payload). Echo it, then close the connection. The decoder reads nothing after it.
    /// </summary>
    Close,
    /// <summary>
    /// The peer broke the protocol: send a close frame with <see cref="ProtocolEvent.CloseCode"/> and
    /// <see cref="ProtocolEvent.Reason"/>, then close the connection. The decoder reads nothing after it.
    /// </summary>
    ProtocolError,
}

/// <summary>
/// One result of <see cref="WebSocketDecoder.Read"/>. <see cref="Payload"/> borrows the decoder's buffer and is valid
/// until the next call to <see cref="WebSocketDecoder.Read"/> or <see cref="WebSocketDecoder.Dispose"/>.
/// </summary>
public readonly struct ProtocolEvent
{
    internal ProtocolEvent(ProtocolEventType type, WebSocketMessageKind kind = default, ReadOnlyMemory<byte> payload = default,
        WebSocketCloseCode closeCode = default, string reason = "", bool endOfMessage = false)
    {
        Type = type;
        EndOfMessage = endOfMessage;
        MessageKind = kind;
        Payload = payload;
        CloseCode = closeCode;
        Reason = reason;
    }

    /// <summary>What happened.</summary>
    public ProtocolEventType Type { get; }

    /// <summary>For <see cref="ProtocolEventType.Message"/> and <see cref="ProtocolEventType.MessageData"/>: text or binary.</summary>
    public WebSocketMessageKind MessageKind { get; }

    /// <summary>For <see cref="ProtocolEventType.MessageData"/>: these are the message's last bytes.</summary>
    public bool EndOfMessage { get; }

    /// <summary>The message, ping or pong payload (unmasked).</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>For a close or a protocol error: the close code.</summary>
    public WebSocketCloseCode CloseCode { get; }

    /// <summary>For a close: the peer's reason; for a protocol error: what was wrong, for the close frame and logs.</summary>
    public string Reason { get; }
}

/// <summary>
/// The receiving half of the WebSocket protocol, with no I/O: feed it bytes as they arrive, however they are split,
/// and it returns frames reassembled into messages and control events, enforcing every RFC 6455 rule on the way:
/// masking, reserved bits and opcodes, control frame limits, fragmentation order, UTF-8 validity of text (failing at the
/// first invalid byte, before the rest of the message arrives), close codes, and the message size limit (checked from each
/// frame header, before its payload is buffered).
/// </summary>
/// <remarks>
/// Usage: call <see cref="Read"/> with the unconsumed input; it advances the input past what it used and returns one
/// event, or <see cref="ProtocolEventType.NeedMoreData"/> once the input is used up. Repeat until then, and call it again
/// when more bytes arrive. Not thread-safe: one reader at a time. Buffers come from <see cref="ArrayPool{T}.Shared"/> and
/// are returned between messages, so an idle decoder holds no payload memory.
/// </remarks>
public sealed class WebSocketDecoder : IDisposable
{
    private const int MinimumMessageBuffer = 256;

    /// <summary>
    /// Message buffers up to this size come from the shared array pool. Larger ones are allocated for the message and
    /// dropped after it: the shared pool keeps what it is given, so a few peers sending 64 MiB messages once would
    /// otherwise pin that memory for good after they leave.
    /// </summary>
    private const int PooledMessageLimit = 1024 * 1024;

    /// <summary>
    /// The most a streamed message holds at once: one chunk of its payload (and, when compressed, a few KiB of input
    /// waiting for the inflater). Large enough that a big message costs few events, small enough to be pooled.
    /// </summary>
    public const int StreamChunkSize = 64 * 1024;

    /// <summary>Compressed input unmasked and handed to the inflater per step.</summary>
    private const int InflateInputStep = 4096;

    private readonly bool _expectMasked;
    private readonly long _maxMessageSize;
    private readonly BufferBudget? _budget;
    private readonly bool _perMessageDeflate;
    private readonly bool _keepInflater;
    private byte[]? _control;

    // The frame whose payload is being read.
    private bool _inFrame;
    private FrameHeader _frame;
    private long _frameRemaining;
    private int _maskOffset;
    private int _controlLength;

    // The data message being assembled across fragments.
    private bool _inMessage;
    private WebSocketMessageKind _messageKind;
    private byte[]? _message;
    private int _messageLength;
    private Utf8Validator _utf8;
    private bool _finished;

    // A compressed message (RSV1 on its first frame): its payload goes through the inflater into the message buffer.
    private bool _compressed;
    private long _compressedLength;
    private bool _inflateEnded;
    private Inflater? _inflater;

    // A message handed out in chunks (streaming mode): the chunk given out last, and for a compressed one the unmasked
    // input the inflater has not taken yet and whether it may still hold output.
    private bool _streaming;
    private byte[]? _chunk;
    private byte[]? _pendingInput;
    private int _pendingOffset;
    private int _pendingCount;
    private bool _inflaterMayHoldOutput;
    private bool _tailFed;

    /// <summary>Creates a decoder.</summary>
    /// <param name="expectMaskedFrames">True on a server (client frames must be masked), false on a client (server frames must not be).</param>
    /// <param name="maxMessageSize">Largest message accepted, summed over its fragments; larger fails with 1009.</param>
    /// <param name="budget">
    /// Shared with other decoders: message buffers are reserved from it, and a message that would take it over its limit
    /// fails with 1013 (Try Again Later). Null for no shared limit.
    /// </param>
    /// <param name="perMessageDeflate">
    /// permessage-deflate was negotiated (RFC 7692): RSV1 on a message's first frame marks it compressed, and it is
    /// inflated as it arrives, <paramref name="maxMessageSize"/> applying to the inflated size.
    /// </param>
    /// <param name="peerContextTakeover">
    /// The peer may refer back to earlier messages (it did not agree to no context takeover): this decoder then keeps
    /// its own inflater from the first compressed message on. Otherwise an inflater is borrowed from a shared pool for
    /// each compressed message and given back at its end.
    /// </param>
    public WebSocketDecoder(bool expectMaskedFrames, long maxMessageSize, BufferBudget? budget = null, bool perMessageDeflate = false, bool peerContextTakeover = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxMessageSize);
        _expectMasked = expectMaskedFrames;
        _maxMessageSize = Math.Min(maxMessageSize, Array.MaxLength - 1);
        _budget = budget;
        _perMessageDeflate = perMessageDeflate;
        _keepInflater = perMessageDeflate && peerContextTakeover;
    }

    /// <summary>True after a close or protocol error event: the decoder reads nothing more.</summary>
    public bool IsFinished => _finished;

    /// <summary>Whether this decoder holds an inflater now (between messages, only under the peer's context takeover).</summary>
    internal bool HoldsInflater => _inflater is not null;

    /// <summary>
    /// Streaming mode: data messages that start from now on are handed out in chunks of at most
    /// <see cref="StreamChunkSize"/> bytes as they arrive (<see cref="ProtocolEventType.MessageData"/>) instead of whole,
    /// so a message of any size up to the limit holds one chunk of memory. A message already started keeps its mode.
    /// Every rule still applies: the size limit on the running total (inflated when compressed), UTF-8 at the first
    /// invalid byte, and the incomplete sequence at the end.
    /// </summary>
    public bool StreamMessages { get; set; }

    /// <summary>True while a fragmented message or a frame is partly received.</summary>
    public bool IsMidMessage => _inMessage || _inFrame;

    /// <summary>Decodes from <paramref name="input"/>, advancing it past the bytes used, until one event is complete or the input is used up.</summary>
    public ProtocolEvent Read(ref ReadOnlySequence<byte> input)
    {
        if (_finished)
        {
            return default;
        }

        ReleaseIdleBuffers();
        while (true)
        {
            if (!_inFrame)
            {
                if (!FrameHeader.TryRead(input, out _frame, out int headerLength, out bool lengthInvalid))
                {
                    if (!_inMessage)
                    {
                        ReleaseMessageBuffer();
                    }

                    return default;
                }

                input = input.Slice(headerLength);
                if (lengthInvalid)
                {
                    return Fail(WebSocketCloseCode.ProtocolError, "The most significant bit of a 64-bit payload length must be 0.");
                }

                ProtocolEvent? refusal = StartFrame();
                if (refusal is { } failed)
                {
                    return failed;
                }
            }

            if (_frame.IsControl)
            {
                int take = (int)Math.Min(_frameRemaining, input.Length);
                if (take > 0)
                {
                    Span<byte> target = _control!.AsSpan(_controlLength, take);
                    CopyPayload(ref input, target);

                    _controlLength += take;
                    _frameRemaining -= take;
                }

                if (_frameRemaining > 0)
                {
                    return default;
                }

                _inFrame = false;
                return CompleteControlFrame();
            }

            if (_streaming)
            {
                if (StreamPayload(ref input) is { } streamed)
                {
                    return streamed;
                }

                // The frame ended without completing the message and without new bytes: on to the next frame.
                continue;
            }

            if (_frameRemaining > 0)
            {
                if (input.IsEmpty)
                {
                    return default;
                }

                int take = (int)Math.Min(_frameRemaining, input.Length);
                ProtocolEvent? failure = _compressed ? InflatePayload(ref input, take) : BufferPayload(ref input, take);
                if (failure is { } failed)
                {
                    return failed;
                }

                if (_frameRemaining > 0)
                {
                    return default;
                }
            }

            _inFrame = false;
            if (_frame.Fin)
            {
                if (_compressed && FinishInflating() is { } failed)
                {
                    return failed;
                }

                if (_messageKind == WebSocketMessageKind.Text && !_utf8.IsComplete)
                {
                    return Fail(WebSocketCloseCode.InvalidPayloadData, "A text message ends in the middle of a UTF-8 sequence.");
                }

                _inMessage = false;
                ReadOnlyMemory<byte> payload = _message is null ? ReadOnlyMemory<byte>.Empty : _message.AsMemory(0, _messageLength);
                return new ProtocolEvent(ProtocolEventType.Message, _messageKind, payload);
            }
        }
    }

    /// <summary>
    /// Streaming mode: moves the current frame's payload into the chunk buffer (unmasked, inflated when compressed,
    /// checked) and returns it as a <see cref="ProtocolEventType.MessageData"/> event once it holds bytes, or the
    /// message's end. Returns <see cref="ProtocolEventType.NeedMoreData"/> when the input is used up with nothing to hand
    /// out, and null when a frame before the last ended with nothing new (the caller reads the next header).
    /// </summary>
    private ProtocolEvent? StreamPayload(ref ReadOnlySequence<byte> input)
    {
        if (_chunk is null)
        {
            // A small single-frame message needs no more than its size; otherwise the chunk is full-sized.
            int size = !_compressed && _frame.Fin ? (int)Math.Clamp(_frameRemaining, MinimumMessageBuffer, StreamChunkSize) : StreamChunkSize;
            byte[] chunkBuffer = ArrayPool<byte>.Shared.Rent(size);
            // Reserved from the budget like a message buffer: a crowd of streamed messages is bounded the same way.
            if (_budget is not null && !_budget.TryReserve(chunkBuffer.Length))
            {
                ArrayPool<byte>.Shared.Return(chunkBuffer);
                return FailOverBudget();
            }

            _chunk = chunkBuffer;
        }

        // Never more than one byte past the limit, so an oversized message (or a bomb) fails having produced no more.
        Span<byte> chunk = _chunk.AsSpan(0, (int)Math.Min(Math.Min(_chunk.Length, StreamChunkSize), _maxMessageSize + 1 - _messageLength));
        int produced;
        if (_compressed)
        {
            if (InflateChunk(ref input, chunk, out produced) is { } failed)
            {
                return failed;
            }
        }
        else
        {
            produced = (int)Math.Min(Math.Min(_frameRemaining, input.Length), chunk.Length);
            CopyPayload(ref input, chunk[..produced]);
            _frameRemaining -= produced;
        }

        _messageLength += produced;
        if (_messageLength > _maxMessageSize)
        {
            return Fail(WebSocketCloseCode.MessageTooBig, $"Messages are limited to {_maxMessageSize} bytes (inflated).");
        }

        if (_messageKind == WebSocketMessageKind.Text && !_utf8.TryValidate(chunk[..produced]))
        {
            return Fail(WebSocketCloseCode.InvalidPayloadData, "A text message is not valid UTF-8.");
        }

        ReadOnlyMemory<byte> payload = _chunk.AsMemory(0, produced);
        bool frameDone = _frameRemaining == 0 && _pendingCount == 0 && !_inflaterMayHoldOutput
            && (!_compressed || !_frame.Fin || _tailFed || _inflateEnded);
        if (!frameDone)
        {
            return produced > 0 ? new ProtocolEvent(ProtocolEventType.MessageData, _messageKind, payload) : default(ProtocolEvent);
        }

        _inFrame = false;
        if (!_frame.Fin)
        {
            return produced > 0 ? new ProtocolEvent(ProtocolEventType.MessageData, _messageKind, payload) : null;
        }

        if (_compressed)
        {
            EndInflating();
        }

        if (_messageKind == WebSocketMessageKind.Text && !_utf8.IsComplete)
        {
            return Fail(WebSocketCloseCode.InvalidPayloadData, "A text message ends in the middle of a UTF-8 sequence.");
        }

        _inMessage = false;
        return new ProtocolEvent(ProtocolEventType.MessageData, _messageKind, payload, endOfMessage: true);
    }

    /// <summary>
    /// Inflates compressed payload into <paramref name="chunk"/> until it is full or the input is used up. Input the
    /// inflater has not taken when the chunk fills waits (unmasked) in a small buffer for the next chunk; after the last
    /// frame the stripped 00 00 FF FF is fed the same way.
    /// </summary>
    private ProtocolEvent? InflateChunk(ref ReadOnlySequence<byte> input, Span<byte> chunk, out int produced)
    {
        produced = 0;
        Inflater inflater = _inflater ??= ZLibPool.RentInflater();
        _pendingInput ??= ArrayPool<byte>.Shared.Rent(InflateInputStep);
        while (produced < chunk.Length)
        {
            if (_pendingCount == 0 && !_inflaterMayHoldOutput)
            {
                if (_frameRemaining > 0 && !input.IsEmpty)
                {
                    int take = (int)Math.Min(Math.Min(_frameRemaining, input.Length), InflateInputStep);
                    CopyPayload(ref input, _pendingInput.AsSpan(0, take));
                    _frameRemaining -= take;
                    _compressedLength += take;
                    (_pendingOffset, _pendingCount) = (0, take);
                }
                else if (_frameRemaining == 0 && _frame.Fin && !_tailFed)
                {
                    _tailFed = true;
                    FlushTail.CopyTo(_pendingInput);
                    (_pendingOffset, _pendingCount) = (0, FlushTail.Length);
                }
                else
                {
                    return null;
                }

                if (_inflateEnded)
                {
                    // Bytes after a final block (BFINAL) are ignored, as zlib does (see InflatePayload).
                    _pendingCount = 0;
                    continue;
                }
            }

            Span<byte> room = chunk[produced..];
            InflateStatus status = inflater.Inflate(_pendingInput.AsSpan(_pendingOffset, _pendingCount), room, out int consumed, out int written);
            if (status == InflateStatus.Invalid)
            {
                return Fail(WebSocketCloseCode.InvalidPayloadData, "A compressed message is not valid deflate data.");
            }

            _pendingOffset += consumed;
            _pendingCount -= consumed;
            produced += written;
            // A full output may leave zlib holding more (a long match, a stored block): ask again even with no input.
            _inflaterMayHoldOutput = written == room.Length;
            if (status == InflateStatus.StreamEnd)
            {
                _inflateEnded = true;
                _pendingCount = 0;
                _inflaterMayHoldOutput = false;
            }
            else if (consumed == 0 && written == 0 && _pendingCount > 0)
            {
                // zlib took nothing and gave nothing with both input and room: never spin on it.
                return Fail(WebSocketCloseCode.InvalidPayloadData, "A compressed message is not valid deflate data.");
            }
        }

        return null;
    }

    /// <summary>Gives back a streamed message's chunk (and its share of the budget) and its pending compressed input.</summary>
    private void ReleaseStreamBuffers()
    {
        if (_chunk is not null)
        {
            _budget?.Release(_chunk.Length);
            ArrayPool<byte>.Shared.Return(_chunk);
            _chunk = null;
        }

        if (_pendingInput is not null)
        {
            ArrayPool<byte>.Shared.Return(_pendingInput);
            _pendingInput = null;
        }

        _pendingCount = 0;
        _inflaterMayHoldOutput = false;
    }

    /// <summary>Moves payload bytes from the input into <paramref name="target"/>, unmasking on the way (one pass per segment).</summary>
    private void CopyPayload(ref ReadOnlySequence<byte> input, Span<byte> target)
    {
        ReadOnlySequence<byte> source = input.Slice(0, target.Length);
        input = input.Slice(target.Length);
        if (!_frame.Masked)
        {
            source.CopyTo(target);
            return;
        }

        foreach (ReadOnlyMemory<byte> segment in source)
        {
            _maskOffset = Masking.Apply(segment.Span, target, _frame.MaskKey, _maskOffset);
            target = target[segment.Length..];
        }
    }

    /// <summary>Checks a new frame's header against the protocol rules and prepares to read its payload.</summary>
    private ProtocolEvent? StartFrame()
    {
        FrameHeader frame = _frame;
        // RSV1 is permessage-deflate's "compressed" bit: allowed once negotiated, and then only on a message's first frame.
        bool rsv1 = frame.Rsv == 0b100 && _perMessageDeflate;
        if (frame.Rsv != 0 && !rsv1)
        {
            return Fail(WebSocketCloseCode.ProtocolError, "Reserved bits are set but no extension was negotiated.");
        }

        if (rsv1 && frame.Opcode is not (Opcode.Text or Opcode.Binary))
        {
            return Fail(WebSocketCloseCode.ProtocolError, frame.IsControl ? "Control frames must not be compressed." : "Only the first frame of a message may have RSV1 set.");
        }

        if (frame.Masked != _expectMasked)
        {
            return Fail(WebSocketCloseCode.ProtocolError, _expectMasked ? "Frames from a client must be masked." : "Frames from a server must not be masked.");
        }

        switch (frame.Opcode)
        {
            case Opcode.Close or Opcode.Ping or Opcode.Pong:
                if (!frame.Fin)
                {
                    return Fail(WebSocketCloseCode.ProtocolError, "Control frames must not be fragmented.");
                }

                if (frame.PayloadLength > FrameHeader.MaxControlPayload)
                {
                    return Fail(WebSocketCloseCode.ProtocolError, "Control frames must carry at most 125 bytes.");
                }

                // Rented per control frame, like message buffers, so an idle connection holds none.
                _control ??= ArrayPool<byte>.Shared.Rent(FrameHeader.MaxControlPayload);
                _controlLength = 0;
                break;
            case Opcode.Text or Opcode.Binary:
                if (_inMessage)
                {
                    return Fail(WebSocketCloseCode.ProtocolError, "A new message started before the previous fragmented message ended.");
                }

                _inMessage = true;
                _messageKind = frame.Opcode == Opcode.Text ? WebSocketMessageKind.Text : WebSocketMessageKind.Binary;
                _messageLength = 0;
                _utf8.Reset();
                _compressed = rsv1;
                _compressedLength = 0;
                _inflateEnded = false;
                _streaming = StreamMessages;
                _tailFed = false;
                break;
            case Opcode.Continuation:
                if (!_inMessage)
                {
                    return Fail(WebSocketCloseCode.ProtocolError, "A continuation frame arrived with no fragmented message in progress.");
                }

                break;
            default:
                return Fail(WebSocketCloseCode.ProtocolError, $"Opcode {(int)frame.Opcode} is reserved.");
        }

        // Compared as room left, not as a sum: a 64-bit length just below 2^63 plus the bytes already received would
        // overflow to a negative total and pass.
        if (!frame.IsControl && !_compressed && frame.PayloadLength > _maxMessageSize - _messageLength)
        {
            return Fail(WebSocketCloseCode.MessageTooBig, $"Messages are limited to {_maxMessageSize} bytes.");
        }

        if (!frame.IsControl && _compressed && frame.PayloadLength > MaxCompressedLength - _compressedLength)
        {
            // The limit is on the inflated size, enforced while inflating; this only bounds the input that can never
            // fit, with room for deflate's few bytes of overhead on incompressible data.
            return Fail(WebSocketCloseCode.MessageTooBig, $"Messages are limited to {_maxMessageSize} bytes.");
        }

        if (!frame.IsControl && !_compressed && !_streaming && frame.Fin && _message is null && frame.Opcode != Opcode.Continuation)
        {
            // A single-frame message: its size is known now, so the buffer is rented once at the right size. Not beyond
            // what the pool serves, though: a header alone would otherwise reserve up to the message limit from the shared
            // budget; larger messages grow (doubling) as their bytes arrive.
            if (!EnsureMessageCapacity((int)Math.Min(frame.PayloadLength, PooledMessageLimit), frame.PayloadLength))
            {
                return FailOverBudget();
            }
        }

        _inFrame = true;
        _frameRemaining = frame.PayloadLength;
        _maskOffset = 0;
        return null;
    }

    /// <summary>Copies <paramref name="take"/> bytes of uncompressed payload into the message buffer, unmasked, validating text.</summary>
    private ProtocolEvent? BufferPayload(ref ReadOnlySequence<byte> input, int take)
    {
        // The message's final size is known in its last frame; before that, only the limit bounds it.
        long expected = _frame.Fin ? _messageLength + _frameRemaining : _maxMessageSize;
        if (!EnsureMessageCapacity(_messageLength + take, expected))
        {
            return FailOverBudget();
        }

        Span<byte> target = _message.AsSpan(_messageLength, take);
        CopyPayload(ref input, target);

        _messageLength += take;
        _frameRemaining -= take;
        if (_messageKind == WebSocketMessageKind.Text && !_utf8.TryValidate(target))
        {
            return Fail(WebSocketCloseCode.InvalidPayloadData, "A text message is not valid UTF-8.");
        }

        return null;
    }

    /// <summary>Most compressed bytes a message may carry: the limit, plus deflate's overhead on data it cannot shrink.</summary>
    private long MaxCompressedLength => _maxMessageSize + _maxMessageSize / 64 + 1024;

    /// <summary>Unmasks <paramref name="take"/> bytes of compressed payload and inflates them into the message buffer.</summary>
    private ProtocolEvent? InflatePayload(ref ReadOnlySequence<byte> input, int take)
    {
        Span<byte> scratch = stackalloc byte[4096];
        while (take > 0)
        {
            Span<byte> chunk = scratch[..Math.Min(take, scratch.Length)];
            CopyPayload(ref input, chunk);
            take -= chunk.Length;
            _frameRemaining -= chunk.Length;
            _compressedLength += chunk.Length;
            // Bytes after a final block (BFINAL) are ignored, as zlib does: RFC 7692 §7.2.3.4's own example has one.
            if (!_inflateEnded && Inflate(chunk) is { } failed)
            {
                return failed;
            }
        }

        return null;
    }

    /// <summary>
    /// Ends a compressed message: inflates the 00 00 FF FF the sender stripped (RFC 7692 §7.2.2), then gives the inflater
    /// back to the pool, or keeps it for the next message under context takeover.
    /// </summary>
    private ProtocolEvent? FinishInflating()
    {
        if (!_inflateEnded && Inflate(FlushTail) is { } failed)
        {
            return failed;
        }

        EndInflating();
        return null;
    }

    /// <summary>The tail a sender strips from every compressed message, and the receiver appends (RFC 7692 §7.2.2).</summary>
    private static ReadOnlySpan<byte> FlushTail => [0x00, 0x00, 0xFF, 0xFF];

    /// <summary>Gives the inflater back to the pool at the end of a compressed message, or keeps it under context takeover.</summary>
    private void EndInflating()
    {
        if (_inflateEnded && _inflater is not null)
        {
            // The peer ended its deflate stream (BFINAL): whatever it sends next starts a new one.
            _inflater.Reset();
        }

        _compressed = false;
        if (!_keepInflater)
        {
            ReturnInflater();
        }
    }

    /// <summary>
    /// Inflates <paramref name="compressed"/> into the message buffer in bounded steps, never producing more than one byte
    /// past the size limit, so a small bomb fails with 1009 after about the limit's worth of output. Text is validated as
    /// it comes out.
    /// </summary>
    private ProtocolEvent? Inflate(ReadOnlySpan<byte> compressed)
    {
        Inflater inflater = _inflater ??= ZLibPool.RentInflater();
        while (true)
        {
            if (!EnsureMessageCapacity(_messageLength + 1, _maxMessageSize + 1))
            {
                return FailOverBudget();
            }

            int room = (int)Math.Min(_message.Length - _messageLength, _maxMessageSize + 1 - _messageLength);
            Span<byte> target = _message.AsSpan(_messageLength, room);
            InflateStatus status = inflater.Inflate(compressed, target, out int consumed, out int written);
            if (status == InflateStatus.Invalid)
            {
                return Fail(WebSocketCloseCode.InvalidPayloadData, "A compressed message is not valid deflate data.");
            }

            _messageLength += written;
            compressed = compressed[consumed..];
            if (_messageLength > _maxMessageSize)
            {
                return Fail(WebSocketCloseCode.MessageTooBig, $"Messages are limited to {_maxMessageSize} bytes (inflated).");
            }

            if (_messageKind == WebSocketMessageKind.Text && !_utf8.TryValidate(target[..written]))
            {
                return Fail(WebSocketCloseCode.InvalidPayloadData, "A text message is not valid UTF-8.");
            }

            if (status == InflateStatus.StreamEnd)
            {
                _inflateEnded = true;
                return null;
            }

            // Done when the input is used up and the output was not the limit (zlib may hold more output back otherwise).
            if (written < room && (compressed.IsEmpty || consumed == 0 && written == 0))
            {
                return null;
            }
        }
    }

    private void ReturnInflater()
    {
        if (_inflater is not null)
        {
            ZLibPool.Return(_inflater);
            _inflater = null;
        }
    }

    private ProtocolEvent CompleteControlFrame()
    {
        ReadOnlyMemory<byte> payload = _control!.AsMemory(0, _controlLength);
        switch (_frame.Opcode)
        {
            case Opcode.Ping:
                return new ProtocolEvent(ProtocolEventType.Ping, payload: payload);
            case Opcode.Pong:
                return new ProtocolEvent(ProtocolEventType.Pong, payload: payload);
            default:
                return ReadClose(payload.Span);
        }
    }

    private ProtocolEvent ReadClose(ReadOnlySpan<byte> payload)
    {
        if (payload.Length == 0)
        {
            _finished = true;
            ReleaseControlBuffer();
            return new ProtocolEvent(ProtocolEventType.Close, closeCode: WebSocketCloseCode.NoStatusReceived);
        }

        if (payload.Length == 1)
        {
            return Fail(WebSocketCloseCode.ProtocolError, "A close frame's payload cannot be a single byte.");
        }

        int code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (!CloseFrame.IsValidOnWire(code))
        {
            return Fail(WebSocketCloseCode.ProtocolError, $"Close code {code} is not allowed on the wire.");
        }

        ReadOnlySpan<byte> reason = payload[2..];
        var validator = default(Utf8Validator);
        if (!validator.TryValidate(reason) || !validator.IsComplete)
        {
            return Fail(WebSocketCloseCode.InvalidPayloadData, "A close reason is not valid UTF-8.");
        }

        _finished = true;
        string reasonText = Encoding.UTF8.GetString(reason);
        ReleaseControlBuffer();
        return new ProtocolEvent(ProtocolEventType.Close, closeCode: (WebSocketCloseCode)code, reason: reasonText);
    }

    private ProtocolEvent Fail(WebSocketCloseCode code, string reason)
    {
        _finished = true;
        ReleaseStreamBuffers();
        ReleaseMessageBuffer();
        ReleaseControlBuffer();
        ReleaseInflater();
        return new ProtocolEvent(ProtocolEventType.ProtocolError, closeCode: code, reason: reason);
    }

    private ProtocolEvent FailOverBudget() =>
        Fail(WebSocketCloseCode.TryAgainLater, "The server is buffering too many large messages right now; try again later.");

    /// <summary>Makes room for <paramref name="needed"/> bytes of message; false when the shared budget cannot take them.</summary>
    /// <param name="needed">Bytes the buffer must hold now.</param>
    /// <param name="expected">The most the message can still grow to: growth stops there.</param>
    [System.Diagnostics.CodeAnalysis.MemberNotNullWhen(true, nameof(_message))]
    private bool EnsureMessageCapacity(int needed, long expected)
    {
        if (_message is not null && _message.Length >= needed)
        {
            return true;
        }

        int size = Math.Max(needed, MinimumMessageBuffer);
        if (_message is not null)
        {
            // Grow geometrically so a message of many small fragments is copied O(log n) times, capped by its size.
            size = (int)Math.Min(Math.Max(size, (long)_message.Length * 2), Math.Max(needed, expected));
        }

        byte[] bigger;
        if (size <= PooledMessageLimit)
        {
            bigger = ArrayPool<byte>.Shared.Rent(size);
            if (_budget is not null && !_budget.TryReserve(bigger.Length))
            {
                ArrayPool<byte>.Shared.Return(bigger);
                return false;
            }
        }
        else
        {
            if (_budget is not null && !_budget.TryReserve(size))
            {
                return false;
            }

            bigger = GC.AllocateUninitializedArray<byte>(size);
        }

        if (_message is not null)
        {
            _message.AsSpan(0, _messageLength).CopyTo(bigger);
            ReturnMessageBuffer(_message);
        }

        _message = bigger;
        return true;
    }

    /// <summary>Frees the inflater when the decoder is done: its state may be mid-stream, so it does not go back to the pool.</summary>
    private void ReleaseInflater()
    {
        _inflater?.Dispose();
        _inflater = null;
    }

    private void ReleaseControlBuffer()
    {
        if (_control is not null)
        {
            ArrayPool<byte>.Shared.Return(_control);
            _control = null;
        }
    }

    private void ReleaseMessageBuffer()
    {
        if (_message is not null)
        {
            byte[] message = _message;
            _message = null;
            ReturnMessageBuffer(message);
        }

        _messageLength = 0;
    }

    /// <summary>Gives a message buffer's share of the budget back, and the buffer to the pool (or to the GC) it came from.</summary>
    private void ReturnMessageBuffer(byte[] buffer)
    {
        _budget?.Release(buffer.Length);
        // Which it came from follows from its length: the pool rounds sizes up to a power of two, so what it hands out
        // for at most PooledMessageLimit (itself a power of two) is never longer; the other buffers are always longer.
        if (buffer.Length <= PooledMessageLimit)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else
        {
            LargeBufferReclaimer.Dropped(buffer.Length);
        }
    }

    /// <summary>
    /// Gives back the buffer of the last message returned, unless a message is partly received: its payload becomes
    /// invalid. Call it once that message is used, so a connection that goes quiet after a large message does not keep
    /// its buffer (and its share of the <see cref="BufferBudget"/>) until the next frame arrives.
    /// </summary>
    public void ReleaseIdleBuffers()
    {
        if (!_inMessage)
        {
            ReleaseMessageBuffer();
            ReleaseStreamBuffers();
        }

        if (!_inFrame)
        {
            ReleaseControlBuffer();
        }
    }

    /// <summary>
    /// Ends the decoder like <see cref="Dispose"/> while a payload it handed out may still be in use (an application
    /// kept a message or a streamed reader past the connection's end): the buffers such a payload may live in are given
    /// back to the <see cref="BufferBudget"/> but not to the pool, and the garbage collector takes them once nothing
    /// refers to them. Buffers never handed out are returned as usual.
    /// </summary>
    public void Abandon()
    {
        if (_message is not null)
        {
            _budget?.Release(_message.Length);
            if (_message.Length > PooledMessageLimit)
            {
                LargeBufferReclaimer.Dropped(_message.Length);
            }

            _message = null;
        }

        if (_chunk is not null)
        {
            _budget?.Release(_chunk.Length);
            _chunk = null;
        }

        Dispose();
    }

    /// <summary>Returns the pooled buffer. Payloads handed out earlier become invalid.</summary>
    public void Dispose()
    {
        _inMessage = false;
        _inFrame = false;
        ReleaseMessageBuffer();
        ReleaseStreamBuffers();
        ReleaseControlBuffer();
        ReleaseInflater();
        _finished = true;
    }
}
