using System.Buffers;

namespace Tern.Tests.TestSupport;

/// <summary>
/// Builds <see cref="ReadOnlySequence{T}"/> values with chosen segment boundaries, to check that sans-I/O parsers
/// give the same result however the transport splits the bytes.
/// </summary>
public static class Sequences
{
    /// <summary>A sequence made of the given segments, in order (empty segments are kept).</summary>
    public static ReadOnlySequence<byte> FromSegments(params ReadOnlyMemory<byte>[] segments)
    {
        if (segments.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(segments[0], 0);
        var last = first;
        for (int i = 1; i < segments.Length; i++)
        {
            last = last.Append(segments[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>The data split into two segments at <paramref name="offset"/> (either may be empty).</summary>
    public static ReadOnlySequence<byte> SplitAt(ReadOnlyMemory<byte> data, int offset) =>
        FromSegments(data[..offset], data[offset..]);

    /// <summary>The data cut into segments of <paramref name="segmentLength"/> bytes (the last may be shorter).</summary>
    public static ReadOnlySequence<byte> Chunked(ReadOnlyMemory<byte> data, int segmentLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentLength, 1);
        var segments = new List<ReadOnlyMemory<byte>>();
        for (int start = 0; start < data.Length; start += segmentLength)
        {
            segments.Add(data.Slice(start, Math.Min(segmentLength, data.Length - start)));
        }

        return FromSegments([.. segments]);
    }

    /// <summary>Every byte in its own segment.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(ReadOnlyMemory<byte> data) => Chunked(data, 1);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
