using System.Buffers;
using System.Net.Sockets;

namespace Tern.Transport;

/// <summary>
/// The outgoing bytes of one connection: a chain of pooled segments that writers append to and one sender drains to the
/// transport. Frames written while the sender is busy coalesce into its next pass; once everything is sent the segments
/// go back to the pool, so an idle connection holds no send buffer.
/// </summary>
/// <remarks>
/// Writers must be serialized by the caller and bracket their writes with <see cref="BeginWrite"/> and
/// <see cref="Commit"/>. The sender starts on the caller's thread (<see cref="SendMode.Inline"/>), on a shared
/// <see cref="IOQueue"/>, or not at all until <see cref="Flush"/> (<see cref="SendMode.Deferred"/>). Never handed out of
/// the library, so it locks on itself: a separate lock object would cost memory on every idle connection.
/// </remarks>
internal sealed class SendQueue : IBufferWriter<byte>
{
    private const int SegmentSize = 4096;

    private static readonly Action<object?> StartSendingCallback = static state => ((SendQueue)state!).StartSending();

    private readonly Transport _transport;
    private readonly IOQueue _ioQueue = IOQueue.Next();
    private readonly DuplexConnection _owner;

    // The chain: _head is the oldest segment with unsent bytes; _tail the one being written.
    private Segment? _head;
    private Segment? _tail;
    private Segment? _spare;
    private bool _writing;
    private bool _unitStartPending;
    private bool _sending;
    private bool _failed;
    private long _queuedBytes;
    private long _committedTotal;
    private long _sentTotal;

    /// <param name="transport">Where the bytes go.</param>
    /// <param name="owner">Told after each send to the transport, and once if sending fails for good (<see cref="DuplexConnection.OnSent"/>).</param>
    public SendQueue(Transport transport, DuplexConnection owner)
    {
        // The owner itself rather than a delegate: one object less on every connection.
        _transport = transport;
        _owner = owner;
    }

    /// <summary>Bytes committed and not yet handed to the transport.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary>Bytes written since the queue was made (less any discarded): the position just past the last write.</summary>
    public long CommittedTotal => Volatile.Read(ref _committedTotal);

    /// <summary>Bytes handed to the transport since the queue was made: everything before this position has left.</summary>
    public long SentTotal => Volatile.Read(ref _sentTotal);

    /// <summary>Starts a write: one unit (a frame, an HTTP response) that is sent whole or, by <see cref="DiscardUnsent"/>, not at all.</summary>
    public void BeginWrite()
    {
        lock (this)
        {
            _writing = true;
            _unitStartPending = true;
        }
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Segment? tail = _tail;
        int wanted = Math.Max(sizeHint, 1);
        if (tail is null || tail.Buffer!.Length - tail.Written < wanted)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(sizeHint, SegmentSize));
            Segment segment;
            lock (this)
            {
                // Reuse the segment object kept from the last time the queue ran dry: no allocation per message.
                segment = _spare ?? new Segment();
                _spare = null;
                segment.Buffer = buffer;
                if (_tail is null)
                {
                    _head = segment;
                }
                else
                {
                    _tail.Next = segment;
                }

                _tail = segment;
            }

            tail = segment;
        }

        if (_unitStartPending)
        {
            // Where this unit begins: the boundaries DiscardUnsent may cut at. Writers are serialized, so no lock.
            _unitStartPending = false;
            if (tail.FirstUnitStart < 0)
            {
                tail.FirstUnitStart = tail.Written;
            }

            tail.LastUnitStart = tail.Written;
        }

        return tail.Buffer!.AsMemory(tail.Written);
    }

    public void Advance(int count)
    {
        Segment tail = _tail!;
        // Published with release semantics: the sender reads Written to know how far it may send.
        Volatile.Write(ref tail.Written, tail.Written + count);
        Interlocked.Add(ref _queuedBytes, count);
        // One writer at a time (the caller serializes them), so a plain increment published for readers.
        Volatile.Write(ref _committedTotal, _committedTotal + count);
    }

    /// <summary>Ends a write and makes sure a sender will take what was written.</summary>
    public void Commit(SendMode mode)
    {
        bool start;
        lock (this)
        {
            _writing = false;
            start = !_sending && !_failed && mode != SendMode.Deferred && _head is not null;
            _sending |= start;
        }

        if (start)
        {
            Start(mode);
        }
    }

    /// <summary>Starts a sender for writes committed with <see cref="SendMode.Deferred"/>, if one is needed.</summary>
    public void Flush(SendMode mode)
    {
        bool start;
        lock (this)
        {
            start = !_sending && !_failed && _head is not null;
            _sending |= start;
        }

        if (start)
        {
            Start(mode);
        }
    }

    /// <summary>
    /// Drops what is queued and not yet handed to the transport, except the rest of a unit already partly handed over
    /// (cutting a frame in two would corrupt the stream), and returns how many bytes were dropped. The caller must hold
    /// off writers meanwhile; what it writes next goes out right after what was kept.
    /// </summary>
    public long DiscardUnsent()
    {
        lock (this)
        {
            Segment? head = _head;
            if (head is null)
            {
                return 0;
            }

            // The sender has handed (or is handing) everything before this to the transport.
            int handedOver = Math.Max(head.Sent, head.SendingTo);
            Segment? cutSegment = head;
            int cut = FirstBoundaryAtOrAfter(head, handedOver);
            if (cut < 0)
            {
                // The unit in flight goes on into the next segments: it ends where the first of them starts a unit.
                cutSegment = head.Next;
                while (cutSegment is not null && cutSegment.FirstUnitStart < 0)
                {
                    cutSegment = cutSegment.Next;
                }

                if (cutSegment is null)
                {
                    // Everything queued is the rest of the unit in flight.
                    return 0;
                }

                cut = cutSegment.FirstUnitStart;
            }

            long dropped = cutSegment.Written - cut;
            cutSegment.Written = cut;
            if (cutSegment.FirstUnitStart >= cut)
            {
                cutSegment.FirstUnitStart = -1;
            }

            if (cutSegment.LastUnitStart >= cut)
            {
                cutSegment.LastUnitStart = cutSegment.FirstUnitStart;
            }

            for (Segment? next = cutSegment.Next; next is not null; next = next.Next)
            {
                dropped += next.Written;
                ArrayPool<byte>.Shared.Return(next.Release());
            }

            cutSegment.Next = null;
            _tail = cutSegment;
            Interlocked.Add(ref _queuedBytes, -dropped);
            Volatile.Write(ref _committedTotal, _committedTotal - dropped);
            return dropped;
        }
    }

    /// <summary>The first offset at or after <paramref name="position"/> in <paramref name="segment"/> where a unit starts or (in the tail) all units end; -1 if none is known.</summary>
    private int FirstBoundaryAtOrAfter(Segment segment, int position)
    {
        if (segment.FirstUnitStart >= position)
        {
            return segment.FirstUnitStart;
        }

        if (segment.LastUnitStart >= position)
        {
            // Units between the first and the last start of a segment are not tracked one by one: keeping a few whole
            // small units (at most a segment) is safe, and cheaper than recording every boundary.
            return segment.LastUnitStart;
        }

        return segment == _tail ? segment.Written : -1;
    }

    private void Start(SendMode mode)
    {
        if (mode == SendMode.Inline)
        {
            _ = SendAsync();
        }
        else
        {
            _ioQueue.Schedule(StartSendingCallback, this);
        }
    }

    private void StartSending() => _ = SendAsync();

    private async Task SendAsync()
    {
        try
        {
            while (true)
            {
                Segment segment;
                int written;
                lock (this)
                {
                    // Recorded under the lock: DiscardUnsent must not drop bytes the transport is being handed.
                    segment = _head!;
                    written = segment.Written;
                    segment.SendingTo = written;
                }

                if (segment.Sent < written)
                {
                    int count = written - segment.Sent;
                    await _transport.SendAsync(segment.Buffer!.AsMemory(segment.Sent, count), CancellationToken.None).ConfigureAwait(false);
                    segment.Sent = written;
                    // One sender at a time: a plain increment, published before the owner looks at it.
                    Volatile.Write(ref _sentTotal, _sentTotal + count);
                    Interlocked.Add(ref _queuedBytes, -count);
                    _owner.OnSent(failed: false);
                    continue;
                }

                bool done = false;
                byte[]? free = null;
                lock (this)
                {
                    if (segment.Next is not null)
                    {
                        _head = segment.Next;
                        free = segment.Release();
                    }
                    else if (segment.Sent == segment.Written)
                    {
                        // Everything is sent. Give the last segment back unless a writer is filling it right now.
                        if (!_writing)
                        {
                            _head = _tail = null;
                            free = segment.Release();
                            _spare = segment;
                        }

                        _sending = false;
                        done = true;
                    }
                }

                if (free is not null)
                {
                    ArrayPool<byte>.Shared.Return(free);
                }

                if (done)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            lock (this)
            {
                _failed = true;
                _sending = false;
            }

            // This may run inline inside a sender's lock: the failure's consequences (cancellation callbacks, which
            // may be application code) run elsewhere.
            ThreadPool.UnsafeQueueUserWorkItem(static self => self._owner.OnSent(failed: true), this, preferLocal: false);
        }
    }

    private sealed class Segment
    {
        public byte[]? Buffer;
        public int Written;
        public int Sent;
        public int SendingTo;
        public int FirstUnitStart = -1;
        public int LastUnitStart = -1;
        public Segment? Next;

        /// <summary>Detaches the buffer (for the pool) and resets the segment for reuse.</summary>
        public byte[] Release()
        {
            byte[] buffer = Buffer!;
            Buffer = null;
            Written = Sent = SendingTo = 0;
            FirstUnitStart = LastUnitStart = -1;
            Next = null;
            return buffer;
        }
    }
}

/// <summary>How a commit gets its bytes sent.</summary>
internal enum SendMode
{
    /// <summary>By a sender on a shared <see cref="IOQueue"/>: the writer returns at once, and later writes coalesce.</summary>
    Queued,
    /// <summary>By the committing thread itself, until the socket would block.</summary>
    Inline,
    /// <summary>Not yet: a later <see cref="SendQueue.Flush"/> sends it (used to batch replies while input is processed).</summary>
    Deferred,
}
