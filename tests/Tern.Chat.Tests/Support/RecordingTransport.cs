using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Tern.Chat.Hub;

namespace Tern.Chat.Tests.Support;

/// <summary>A hub client that keeps what it receives, parsed, in arrival order.</summary>
public sealed class TestClient(long id) : IChatClient
{
    private readonly ConcurrentQueue<JsonElement> _inbox = new();
    private readonly SemaphoreSlim _arrived = new(0);

    public long Id { get; } = id;

    public IReadOnlyList<JsonElement> Received => _inbox.ToArray();

    public void Deliver(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        _inbox.Enqueue(document.RootElement.Clone());
        _arrived.Release();
    }

    public IReadOnlyList<JsonElement> OfType(string type) => Received.Where(m => m.GetProperty("type").GetString() == type).ToArray();

    public JsonElement Last(string type) => OfType(type)[^1];

    public JsonElement Single(string type) => Assert.Single(OfType(type));

    /// <summary>Waits (bounded) until a message of the type has arrived, and returns the latest.</summary>
    public async Task<JsonElement> WaitForAsync(string type, int count = 1, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (OfType(type).Count < count)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _arrived.WaitAsync(left))
            {
                Assert.Fail($"Client {Id} got no '{type}' message (#{count}) in time; it got: {string.Join(", ", Received.Select(m => m.GetRawText()))}");
            }
        }

        return OfType(type)[count - 1];
    }

    public void Clear()
    {
        while (_inbox.TryDequeue(out _))
        {
        }
    }
}

/// <summary>Delivers hub output straight into the test clients, like a transport with instant, infinite queues.</summary>
public sealed class RecordingTransport : IChatTransport
{
    public int Sends;

    /// <summary>The connections the hub closed, with the close code and reason, in order.</summary>
    public ConcurrentQueue<(long ClientId, int Code, string Reason)> Closed { get; } = new();

    public ValueTask CloseAsync(IChatClient client, int closeCode, string reason)
    {
        Closed.Enqueue((client.Id, closeCode, reason));
        return ValueTask.CompletedTask;
    }

    public ValueTask SendAsync(string json, IReadOnlyList<IChatClient> clients)
    {
        Interlocked.Increment(ref Sends);
        foreach (IChatClient client in clients)
        {
            ((TestClient)client).Deliver(json);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>A clock the test moves by hand (timers still run on real time).</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private long _ticks = DateTimeOffset.Parse("2025-01-01T12:00:00Z", global::System.Globalization.CultureInfo.InvariantCulture).UtcTicks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

public static class Json
{
    public static ReadOnlyMemory<byte> Utf8(string json) => Encoding.UTF8.GetBytes(json);

    public static string Str(this JsonElement element, string property) => element.GetProperty(property).GetString()!;

    public static long Long(this JsonElement element, string property) => element.GetProperty(property).GetInt64();
}
