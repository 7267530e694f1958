using System.Buffers;
using System.Runtime.InteropServices;

namespace Tern.Protocol;

/// <summary>
/// zlib through the runtime's own native library (the one behind <see cref="System.IO.Compression.DeflateStream"/>).
/// Called directly because DeflateStream in .NET 10 has a fixed 15-bit window and cannot flush with Z_FULL_FLUSH or
/// reset, and permessage-deflate needs both: smaller windows when a client asks, and one deflater serving many
/// connections. The layout of <see cref="ZStream"/> and the constants follow dotnet/runtime's pal_zlib.h; the flush
/// values are passed through to zlib's deflate() and inflate() unchanged.
/// </summary>
internal static unsafe partial class ZLibNative
{
    private const string Library = "System.IO.Compression.Native";

    public const int Ok = 0, StreamEnd = 1, BufError = -5;
    public const int NoFlush = 0, SyncFlush = 2, FullFlush = 3;
    private const int Deflated = 8, DefaultStrategy = 0, MemLevel = 8;

    /// <summary>PAL_ZStream: the zlib stream state lives behind <see cref="InternalState"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ZStream
    {
        public byte* NextIn;
        public byte* NextOut;
        public sbyte* Message;
        public void* InternalState;
        public uint AvailIn;
        public uint AvailOut;
    }

    [LibraryImport(Library, EntryPoint = "CompressionNative_DeflateInit2_")]
    private static partial int DeflateInit2(ZStream* stream, int level, int method, int windowBits, int memLevel, int strategy);

    [LibraryImport(Library, EntryPoint = "CompressionNative_Deflate")]
    public static partial int Deflate(ZStream* stream, int flush);

    [LibraryImport(Library, EntryPoint = "CompressionNative_DeflateEnd")]
    public static partial int DeflateEnd(ZStream* stream);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateInit2_")]
    public static partial int InflateInit2(ZStream* stream, int windowBits);

    [LibraryImport(Library, EntryPoint = "CompressionNative_Inflate")]
    public static partial int Inflate(ZStream* stream, int flush);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateReset2_")]
    public static partial int InflateReset2(ZStream* stream, int windowBits);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateEnd")]
    public static partial int InflateEnd(ZStream* stream);

    /// <summary>A raw deflate stream (negative window bits: no zlib header or checksum, as RFC 7692 wants).</summary>
    public static int DeflateInitRaw(ZStream* stream, int level, int windowBits) =>
        DeflateInit2(stream, level, Deflated, -windowBits, MemLevel, DefaultStrategy);
}

/// <summary>
/// A zlib compressor for permessage-deflate messages. The stream state is in native memory (~256 KiB with a 15-bit
/// window), freed by <see cref="Dispose"/> or, for one that was dropped, by the finalizer.
/// </summary>
internal sealed unsafe class Deflater : IDisposable
{
    /// <summary>The tail every flushed message ends in, which RFC 7692 §7.2.1 has the sender strip.</summary>
    private static ReadOnlySpan<byte> FlushTail => [0x00, 0x00, 0xFF, 0xFF];

    private ZLibNative.ZStream* _stream;

    public Deflater(int level, int windowBits)
    {
        Level = level;
        WindowBits = windowBits;
        _stream = (ZLibNative.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZLibNative.ZStream));
        int result = ZLibNative.DeflateInitRaw(_stream, level, windowBits);
        if (result != ZLibNative.Ok)
        {
            NativeMemory.Free(_stream);
            _stream = null;
            GC.SuppressFinalize(this);
            throw new InvalidOperationException($"zlib refused a deflater with level {level} and window bits {windowBits} ({result}).");
        }
    }

    ~Deflater() => Release();

    public int Level { get; }

    public int WindowBits { get; }

    /// <summary>
    /// Compresses one message into a buffer rented from <see cref="ArrayPool{T}.Shared"/> (the caller returns it) and
    /// returns its length, without the 00 00 FF FF tail. <paramref name="keepContext"/> ends the message with
    /// Z_SYNC_FLUSH, so later messages may refer back to it (context takeover); otherwise Z_FULL_FLUSH, after which
    /// nothing refers back, so the deflater can next serve any other connection.
    /// </summary>
    public byte[] Compress(ReadOnlySpan<byte> input, bool keepContext, out int length) =>
        CompressFragment(input, endOfMessage: true, keepContext, out length);

    /// <summary>
    /// Compresses one fragment of a message (RFC 7692 §7.2.1 compresses the message, not the frame). A fragment before
    /// the last ends with Z_SYNC_FLUSH and keeps its 00 00 FF FF, so the peer can inflate it on arrival; the last one is
    /// flushed and stripped like <see cref="Compress"/>. All fragments of one message go through the same deflater.
    /// </summary>
    public byte[] CompressFragment(ReadOnlySpan<byte> input, bool endOfMessage, bool keepContext, out int length)
    {
        ObjectDisposedException.ThrowIf(_stream is null, this);
        int flush = !endOfMessage || keepContext ? ZLibNative.SyncFlush : ZLibNative.FullFlush;
        byte[] output = ArrayPool<byte>.Shared.Rent(input.Length + input.Length / 64 + 64);
        length = 0;
        fixed (byte* inputStart = input)
        {
            _stream->NextIn = inputStart;
            _stream->AvailIn = (uint)input.Length;
            while (true)
            {
                if (length == output.Length)
                {
                    byte[] bigger = ArrayPool<byte>.Shared.Rent(output.Length * 2);
                    output.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(output);
                    output = bigger;
                }

                fixed (byte* outputStart = output)
                {
                    _stream->NextOut = outputStart + length;
                    _stream->AvailOut = (uint)(output.Length - length);
                    int result = ZLibNative.Deflate(_stream, flush);
                    length = output.Length - (int)_stream->AvailOut;
                    if (result != ZLibNative.Ok && result != ZLibNative.BufError)
                    {
                        ArrayPool<byte>.Shared.Return(output);
                        throw new InvalidOperationException($"zlib failed to compress ({result}).");
                    }

                    // With a flush, zlib is done when it leaves output room unused.
                    if (_stream->AvailOut != 0)
                    {
                        break;
                    }
                }
            }

            _stream->NextIn = null;
            _stream->NextOut = null;
        }

        if (!endOfMessage)
        {
            return output;
        }

        if (output.AsSpan(0, length).EndsWith(FlushTail))
        {
            length -= FlushTail.Length;
        }

        if (length == 0)
        {
            // zlib writes nothing for a flush with no new input since the last flush; the message still needs a block:
            // 0x00 starts an empty stored block, which the receiver's appended 00 00 FF FF completes (RFC 7692 §7.2.3.6).
            output[0] = 0x00;
            length = 1;
        }

        return output;
    }

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        if (_stream is not null)
        {
            ZLibNative.DeflateEnd(_stream);
            NativeMemory.Free(_stream);
            _stream = null;
        }
    }
}

/// <summary>The outcome of one <see cref="Inflater.Inflate"/> step.</summary>
internal enum InflateStatus
{
    /// <summary>Input used up, or output full: call again with more of either.</summary>
    Ok,
    /// <summary>The deflate stream ended (a block with BFINAL set).</summary>
    StreamEnd,
    /// <summary>The input is not valid deflate data.</summary>
    Invalid,
}

/// <summary>
/// A zlib decompressor with a 15-bit window, so it reads what a compressor with any window size wrote. The stream state
/// is in native memory (~32 KiB once it has inflated something), freed by <see cref="Dispose"/> or the finalizer.
/// </summary>
internal sealed unsafe class Inflater : IDisposable
{
    private const int WindowBits = 15;

    private ZLibNative.ZStream* _stream;

    public Inflater()
    {
        _stream = (ZLibNative.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZLibNative.ZStream));
        int result = ZLibNative.InflateInit2(_stream, -WindowBits);
        if (result != ZLibNative.Ok)
        {
            NativeMemory.Free(_stream);
            _stream = null;
            GC.SuppressFinalize(this);
            throw new InvalidOperationException($"zlib refused an inflater ({result}).");
        }
    }

    ~Inflater() => Release();

    /// <summary>Inflates from <paramref name="input"/> into <paramref name="output"/>; at most <paramref name="output"/>'s length is produced.</summary>
    public InflateStatus Inflate(ReadOnlySpan<byte> input, Span<byte> output, out int consumed, out int written)
    {
        ObjectDisposedException.ThrowIf(_stream is null, this);
        fixed (byte* inputStart = input)
        fixed (byte* outputStart = output)
        {
            _stream->NextIn = inputStart;
            _stream->AvailIn = (uint)input.Length;
            _stream->NextOut = outputStart;
            _stream->AvailOut = (uint)output.Length;
            int result = ZLibNative.Inflate(_stream, ZLibNative.SyncFlush);
            consumed = input.Length - (int)_stream->AvailIn;
            written = output.Length - (int)_stream->AvailOut;
            _stream->NextIn = null;
            _stream->NextOut = null;
            return result switch
            {
                ZLibNative.Ok or ZLibNative.BufError => InflateStatus.Ok,
                ZLibNative.StreamEnd => InflateStatus.StreamEnd,
                _ => InflateStatus.Invalid,
            };
        }
    }

    /// <summary>Whether the native state is freed (for tests).</summary>
    internal bool IsDisposed => _stream is null;

    /// <summary>Forgets the stream (and its history) so the inflater can start a new one.</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_stream is null, this);
        ZLibNative.InflateReset2(_stream, -WindowBits);
    }

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        if (_stream is not null)
        {
            ZLibNative.InflateEnd(_stream);
            NativeMemory.Free(_stream);
            _stream = null;
        }
    }
}

/// <summary>
/// Deflaters and inflaters lent out per message to connections without context takeover, so an idle connection holds
/// neither. Bounded: at most <see cref="Capacity"/> of each kind (per level and window size) are kept; more are freed
/// when given back. Borrowing happens inside one send or one message, so the number in use at once follows the number
/// of threads compressing, not the number of connections.
/// </summary>
internal static class ZLibPool
{
    public static readonly int Capacity = Math.Max(4, Environment.ProcessorCount * 2);

    // Index: level (1..9) * 16 + window bits (9..15).
    private static readonly Stack<Deflater>?[] s_deflaters = new Stack<Deflater>?[10 * 16];
    private static readonly Stack<Inflater> s_inflaters = new();

    public static Deflater RentDeflater(int level, int windowBits)
    {
        Stack<Deflater> pool = DeflatersFor(level, windowBits);
        lock (pool)
        {
            if (pool.TryPop(out Deflater? deflater))
            {
                return deflater;
            }
        }

        return new Deflater(level, windowBits);
    }

    public static void Return(Deflater deflater)
    {
        Stack<Deflater> pool = DeflatersFor(deflater.Level, deflater.WindowBits);
        lock (pool)
        {
            if (pool.Count < Capacity)
            {
                pool.Push(deflater);
                return;
            }
        }

        deflater.Dispose();
    }

    public static Inflater RentInflater()
    {
        lock (s_inflaters)
        {
            if (s_inflaters.TryPop(out Inflater? inflater))
            {
                return inflater;
            }
        }

        return new Inflater();
    }

    /// <summary>Takes back an inflater that finished its message; it is reset here.</summary>
    public static void Return(Inflater inflater)
    {
        inflater.Reset();
        lock (s_inflaters)
        {
            if (s_inflaters.Count < Capacity)
            {
                s_inflaters.Push(inflater);
                return;
            }
        }

        inflater.Dispose();
    }

    /// <summary>How many inflaters are kept now (for tests).</summary>
    public static int PooledInflaters
    {
        get
        {
            lock (s_inflaters)
            {
                return s_inflaters.Count;
            }
        }
    }

    /// <summary>How many deflaters of this level and window size are kept now (for tests).</summary>
    public static int PooledDeflaters(int level, int windowBits)
    {
        Stack<Deflater> pool = DeflatersFor(level, windowBits);
        lock (pool)
        {
            return pool.Count;
        }
    }

    private static Stack<Deflater> DeflatersFor(int level, int windowBits)
    {
        ref Stack<Deflater>? slot = ref s_deflaters[level * 16 + windowBits];
        return Volatile.Read(ref slot) ?? Interlocked.CompareExchange(ref slot, new Stack<Deflater>(), null) ?? slot!;
    }
}
