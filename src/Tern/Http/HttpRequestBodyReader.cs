using System.Buffers;
using System.IO.Pipelines;

namespace Tern.Http;

/// <summary>
/// Reads a Content-Length body off a connection's input, starting with whatever the head's reads already brought in
/// (a client often sends head and body in one packet, and the head parser leaves those bytes unconsumed in the pipe).
/// </summary>
internal static class HttpRequestBodyReader
{
    /// <summary>
    /// Reads exactly <paramref name="length"/> bytes into <paramref name="destination"/>, or skips them when it is null.
    /// Bytes after the body stay in the pipe.
    /// </summary>
    /// <returns>False when the client ended the stream before the whole body arrived.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first.</exception>
    public static async ValueTask<bool> ReadAsync(PipeReader input, long length, byte[]? destination, CancellationToken cancellationToken)
    {
        long received = 0;
        while (received < length)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> part = result.Buffer.Slice(0, Math.Min(length - received, result.Buffer.Length));
            if (destination is not null)
            {
                part.CopyTo(destination.AsSpan((int)received));
            }

            received += part.Length;

            // Consumed and examined up to the body's end: when the part is the whole buffer, the next read waits for more.
            input.AdvanceTo(part.End);
            if (received < length && (result.IsCompleted || result.IsCanceled))
            {
                return false;
            }
        }

        return true;
    }
}
