using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Tern.Diagnostics;
using Tern.Protocol;

namespace Tern;

/// <summary>Why a connection was refused before its handshake; the names are the ones metrics will use.</summary>
internal enum ConnectionRefusalReason
{
    /// <summary>The server held <see cref="WebSocketServerOptions.MaxConnections"/> connections: "max_connections".</summary>
    MaxConnections,

    /// <summary>The remote address held <see cref="WebSocketServerOptions.MaxConnectionsPerAddress"/>: "max_connections_per_address".</summary>
    MaxConnectionsPerAddress,
}

/// <summary>
/// Counts the sockets a server holds, in total and per remote address, and refuses the ones over the limits cheaply:
/// a 503 if the request head arrives promptly, else a plain close, and never more than a few refusals in flight.
/// </summary>
/// <remarks>
/// <para>A connection is counted from accept until its socket is released; <see cref="Release"/> must be called exactly
/// once for each admitted connection, whatever ends it. Thread-safe.</para>
/// <para>On Unix it also keeps a few descriptors in reserve. A .NET process must never run out of descriptors: the
/// runtime itself opens files (/proc for the GC's memory checks, assemblies as they load) and aborts with "Out of
/// memory." when it cannot. So when accept fails for lack of descriptors (<see cref="OnOutOfDescriptors"/>), the reserve
/// is closed to give the runtime room, and no more connections are admitted than are held at that moment, until enough
/// close for the reserve to be taken back.</para>
/// </remarks>
internal sealed class ConnectionLimiter : IDisposable
{
    /// <summary>Descriptors held in reserve, given back to the process when accept runs out.</summary>
    public const int ReserveSize = 8;

    /// <summary>What the server answers in <c>Retry-After</c>, in seconds.</summary>
    public const int RetryAfterSeconds = 5;

    // A refused client gets this long to send its request head, and then as long again to take the answer and close.
    private static readonly TimeSpan MaxRefusalWait = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<IPAddress, int>? _perAddress;
    private readonly int _maxPerAddress;
    private readonly int _maxHeadSize;
    private readonly TimeSpan _refusalWait;
    private readonly ILogger _logger;
    private readonly byte[] _serverFullResponse;
    private readonly byte[] _addressFullResponse;
    private int _held;
    private int _pendingRefusals;
    private long _refusedMaxConnections;
    private long _refusedPerAddress;
    private long _refusedSinceLog;
    private long _lastRefusalLogTicks = Environment.TickCount64 - 1000;
    private Timer? _refusalSummaryTimer;
    private int _refusalSummaryArmed;
    private SafeFileHandle[]? _reserve;
    private int _ceiling = int.MaxValue;
    private int _reacquiring;
    private long _lastReacquireTicks;
    private int _disposed;

    public ConnectionLimiter(int maxConnections, int maxPerAddress, int maxPendingRefusals, int maxHeadSize, TimeSpan handshakeTimeout, ILogger logger)
    {
        MaxConnections = maxConnections;
        _maxPerAddress = maxPerAddress;
        _perAddress = maxPerAddress > 0 ? new ConcurrentDictionary<IPAddress, int>() : null;
        MaxPendingRefusals = maxPendingRefusals;
        _maxHeadSize = maxHeadSize;
        _refusalWait = handshakeTimeout < MaxRefusalWait ? handshakeTimeout : MaxRefusalWait;
        _logger = logger;
        // Encoded once: a refusal must cost as little as possible, since a flood of them is what it answers.
        _serverFullResponse = EncodeRefusal("The server is at its connection limit; try again later.");
        _addressFullResponse = EncodeRefusal("Too many connections from your address; try again later.");
        _reserve = TryOpenReserve();
    }

    /// <summary>
    /// True after accept ran out of descriptors, until the reserve is taken back: no more connections are admitted than
    /// were held then, and refused sockets are closed at once.
    /// </summary>
    public bool OutOfDescriptors => Volatile.Read(ref _ceiling) != int.MaxValue;

    /// <summary>The most connections held at once.</summary>
    public int MaxConnections { get; }

    /// <summary>The most refused sockets being answered at once; past it, a refused socket is closed without reading.</summary>
    public int MaxPendingRefusals { get; }

    /// <summary>Connections held now (admitted and not released).</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Refused sockets being answered now.</summary>
    public int PendingRefusals => Volatile.Read(ref _pendingRefusals);

    /// <summary>Connections refused because the server was full ("max_connections").</summary>
    public long RefusedMaxConnections => Interlocked.Read(ref _refusedMaxConnections);

    /// <summary>Connections refused because their address was full ("max_connections_per_address").</summary>
    public long RefusedMaxConnectionsPerAddress => Interlocked.Read(ref _refusedPerAddress);

    /// <summary>Connections held now from <paramref name="address"/> (0 when the per-address limit is off).</summary>
    public int HeldFrom(IPAddress address) => _perAddress is not null && _perAddress.TryGetValue(Normalize(address), out int count) ? count : 0;

    /// <summary>
    /// Counts a just-accepted socket, or refuses it. Returns true when it is admitted (the caller then owns it and calls
    /// <see cref="Release"/> once it is closed); false when it was over a limit and is now being refused here.
    /// </summary>
    public bool TryAdmit(Socket socket, IPAddress address)
    {
        if (Interlocked.Increment(ref _held) > Math.Min(MaxConnections, Volatile.Read(ref _ceiling)))
        {
            Interlocked.Decrement(ref _held);
            Refuse(socket, address, ConnectionRefusalReason.MaxConnections);
            return false;
        }

        if (_perAddress is not null && _perAddress.AddOrUpdate(Normalize(address), 1, static (_, count) => count + 1) > _maxPerAddress)
        {
            Release(address);
            Refuse(socket, address, ConnectionRefusalReason.MaxConnectionsPerAddress);
            return false;
        }

        return true;
    }

    /// <summary>Uncounts a connection admitted by <see cref="TryAdmit"/>, once its socket is closed.</summary>
    public void Release(IPAddress address)
    {
        if (_perAddress is not null)
        {
            IPAddress key = Normalize(address);
            while (_perAddress.TryGetValue(key, out int count))
            {
                // Removed at zero, or every address that ever connected would stay in the table.
                bool done = count <= 1
                    ? _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(key, count))
                    : _perAddress.TryUpdate(key, count - 1, count);
                if (done)
                {
                    break;
                }
            }
        }

        int held = Interlocked.Decrement(ref _held);
        if (OutOfDescriptors && held <= Volatile.Read(ref _ceiling) - ReserveSize)
        {
            TryTakeBackReserve();
        }
    }

    /// <summary>Accept failed for lack of descriptors: frees the reserve for the runtime and stops admitting more connections.</summary>
    public void OnOutOfDescriptors()
    {
        SafeFileHandle[]? reserve = Interlocked.Exchange(ref _reserve, null);
        if (reserve is null)
        {
            // Released already (or none on this platform): the ceiling is in force.
            return;
        }

        int held = Held;
        Volatile.Write(ref _ceiling, Math.Max(1, held));
        foreach (SafeFileHandle handle in reserve)
        {
            handle.Dispose();
        }

        Log.OutOfDescriptors(_logger, held, reserve.Length);
    }

    /// <summary>Closes the reserve, for good: connections released after the server stopped do not take it back.</summary>
    public void Dispose()
    {
        Volatile.Write(ref _disposed, 1);
        DisposeReserve(Interlocked.Exchange(ref _reserve, null));
        _refusalSummaryTimer?.Dispose();
        FlushRefusalSummary();
    }

    private void TryTakeBackReserve()
    {
        long now = Environment.TickCount64;
        // One attempt a second at most: every failed open costs an exception.
        if (now - Volatile.Read(ref _lastReacquireTicks) < 1000 || Interlocked.Exchange(ref _reacquiring, 1) != 0)
        {
            return;
        }

        try
        {
            Volatile.Write(ref _lastReacquireTicks, now);
            if (Volatile.Read(ref _disposed) == 0 && Volatile.Read(ref _reserve) is null && TryOpenReserve() is { } reserve)
            {
                Volatile.Write(ref _reserve, reserve);
                if (Volatile.Read(ref _disposed) != 0)
                {
                    // Stopped meanwhile: Dispose may have looked before the reserve was back.
                    DisposeReserve(Interlocked.Exchange(ref _reserve, null));
                    return;
                }

                Volatile.Write(ref _ceiling, int.MaxValue);
                Log.DescriptorsAvailable(_logger, Held, MaxConnections);
            }
        }
        finally
        {
            Volatile.Write(ref _reacquiring, 0);
        }
    }

    private static SafeFileHandle[]? TryOpenReserve()
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        var handles = new SafeFileHandle[ReserveSize];
        try
        {
            for (int i = 0; i < handles.Length; i++)
            {
                handles[i] = File.OpenHandle("/dev/null");
            }

            return handles;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            DisposeReserve(handles);
            return null;
        }
    }

    private static void DisposeReserve(SafeFileHandle?[]? handles)
    {
        foreach (SafeFileHandle? handle in handles ?? [])
        {
            handle?.Dispose();
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static byte[] EncodeRefusal(string reason)
    {
        var output = new ArrayBufferWriter<byte>(256);
        Handshake.WriteRefusal(output, new HandshakeRefusal(503, reason,
            [new("Retry-After", RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture))]));
        return output.WrittenSpan.ToArray();
    }

    private void Refuse(Socket socket, IPAddress address, ConnectionRefusalReason reason)
    {
        Interlocked.Increment(ref reason == ConnectionRefusalReason.MaxConnections ? ref _refusedMaxConnections : ref _refusedPerAddress);
        LogRefusal(address, reason);
        if (Interlocked.Increment(ref _pendingRefusals) > MaxPendingRefusals || OutOfDescriptors)
        {
            // Even the refusals are too many, or descriptors ran out: answering costs a descriptor and a buffer each,
            // for up to two seconds.
            Interlocked.Decrement(ref _pendingRefusals);
            socket.Dispose();
            return;
        }

        _ = AnswerRefusalAsync(socket, reason == ConnectionRefusalReason.MaxConnections ? _serverFullResponse : _addressFullResponse);
    }

    private async Task AnswerRefusalAsync(Socket socket, byte[] response)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_maxHeadSize);
        try
        {
            using var deadline = new CancellationTokenSource(_refusalWait);
            // The whole head is read before answering: closing with unread request bytes would send a TCP reset, which
            // can destroy the response before the client reads it. The head is not parsed; only its end is looked for.
            int filled = 0;
            while (true)
            {
                if (filled == _maxHeadSize)
                {
                    return;
                }

                int read = await socket.ReceiveAsync(buffer.AsMemory(filled, _maxHeadSize - filled), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                int searchFrom = Math.Max(0, filled - 3);
                filled += read;
                if (buffer.AsSpan(searchFrom, filled - searchFrom).IndexOf("\r\n\r\n"u8) >= 0)
                {
                    break;
                }
            }

            deadline.CancelAfter(_refusalWait);
            await socket.SendAsync(response, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Send);
            // Wait briefly for the client to close its side, so the response is not lost to a reset.
            while (await socket.ReceiveAsync(buffer.AsMemory(0, _maxHeadSize), SocketFlags.None, deadline.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Silent, slow or gone: the client is simply closed.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            socket.Dispose();
            Interlocked.Decrement(ref _pendingRefusals);
        }
    }

    private void LogRefusal(IPAddress address, ConnectionRefusalReason reason)
    {
        Log.ConnectionRefused(_logger, address, ReasonName(reason));

        // A flood of refused clients must not become a flood of log lines: one summary a second at most.
        Interlocked.Increment(ref _refusedSinceLog);
        long now = Environment.TickCount64;
        long last = Volatile.Read(ref _lastRefusalLogTicks);
        if (now - last < 1000 || Interlocked.CompareExchange(ref _lastRefusalLogTicks, now, last) != last)
        {
            // Held for the next summary; if no refusal comes to write it, a timer does when the second is over, so a
            // burst is reported whole rather than as its first refusal.
            if (Interlocked.Exchange(ref _refusalSummaryArmed, 1) == 0)
            {
                _refusalSummaryTimer ??= new Timer(static state => ((ConnectionLimiter)state!).FlushRefusalSummary(), this, Timeout.Infinite, Timeout.Infinite);
                _refusalSummaryTimer.Change(Math.Max(1, 1000 - (now - last)), Timeout.Infinite);
            }

            return;
        }

        WriteRefusalSummary(now, last);
    }

    private void FlushRefusalSummary()
    {
        Volatile.Write(ref _refusalSummaryArmed, 0);
        long now = Environment.TickCount64;
        long last = Volatile.Read(ref _lastRefusalLogTicks);
        if (Volatile.Read(ref _refusedSinceLog) > 0 && Interlocked.CompareExchange(ref _lastRefusalLogTicks, now, last) == last)
        {
            WriteRefusalSummary(now, last);
        }
    }

    private void WriteRefusalSummary(long now, long last) =>
        Log.RefusalsSummary(_logger,
            Interlocked.Exchange(ref _refusedSinceLog, 0), (now - last) / 1000.0, Held, Math.Min(MaxConnections, Volatile.Read(ref _ceiling)), RefusedMaxConnections, RefusedMaxConnectionsPerAddress);

    /// <summary>The reason's name as metrics and logs spell it.</summary>
    public static string ReasonName(ConnectionRefusalReason reason) =>
        reason == ConnectionRefusalReason.MaxConnections ? "max_connections" : "max_connections_per_address";
}

/// <summary>The default connection limit, derived from the process's file-descriptor limit.</summary>
internal static class FileDescriptorLimit
{
    /// <summary>The limit used where the file limit cannot be read (Windows, or an unlimited or unreadable limit).</summary>
    public const int Fallback = 10_000;

    /// <summary>The smallest derived limit, so a tiny file limit still lets a few clients in.</summary>
    public const int Minimum = 16;

    /// <summary>
    /// Descriptors always kept for the runtime, logs, databases and TLS, on top of 10 % of the limit. A bare .NET process
    /// already holds 60 to 70 (two per loaded assembly, pipes, epoll), so 64 would leave nothing under a small limit.
    /// </summary>
    public const int Reserve = 128;

    /// <summary>
    /// The most connections to hold under a file limit of <paramref name="softLimit"/> descriptors: the limit less 10 %
    /// and <see cref="Reserve"/> (256 gives 103, 1,024 gives 794), at least <see cref="Minimum"/>; <see cref="Fallback"/> when the limit is unknown.
    /// </summary>
    public static int DeriveMaxConnections(long? softLimit)
    {
        if (softLimit is not { } limit || limit <= 0 || limit > int.MaxValue)
        {
            return Fallback;
        }

        return (int)Math.Max(Minimum, limit - limit / 10 - Reserve);
    }

    /// <summary>The soft RLIMIT_NOFILE of this process, or null where it cannot be read.</summary>
    public static long? ReadSoftLimit()
    {
        int resource;
        if (OperatingSystem.IsLinux())
        {
            resource = 7;
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            resource = 8;
        }
        else
        {
            return null;
        }

        try
        {
            if (GetRLimit(resource, out RLimit limit) != 0 || limit.Current > long.MaxValue)
            {
                // RLIM_INFINITY is all ones on Linux: unlimited reads as unknown, and gets the fallback.
                return null;
            }

            return (long)limit.Current;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "getrlimit")]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }
}
