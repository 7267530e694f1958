using System.Buffers;

namespace Tern.Tests.TestSupport;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> that hands out spans of exactly the requested size (at least one byte), so a
/// writer that writes past what it asked for fails instead of being hidden by a generous buffer.
/// </summary>
public sealed class ExactSizeBufferWriter : IBufferWriter<byte>
{
    private readonly List<byte> _written = [];
    private byte[] _current = [];

    /// <summary>How many times <see cref="GetSpan"/> or <see cref="GetMemory"/> was called.</summary>
    public int Requests { get; private set; }

    /// <summary>Everything advanced so far.</summary>
    public byte[] WrittenBytes => [.. _written];

    public void Advance(int count)
    {
        if (count < 0 || count > _current.Length)
        {
            throw new InvalidOperationException($"Advanced {count} bytes after asking for {_current.Length}.");
        }

        _written.AddRange(_current.AsSpan(0, count));
        _current = [];
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Requests++;
        _current = new byte[Math.Max(sizeHint, 1)];
        return _current;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
}
