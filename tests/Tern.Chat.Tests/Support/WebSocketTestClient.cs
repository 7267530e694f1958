using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Tern.Chat.Tests.Support;

/// <summary>A chat client on System.Net.WebSockets.ClientWebSocket, keeping every message it receives.</summary>
public sealed class WebSocketTestClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly List<JsonElement> _received = [];
    private readonly Channel<JsonElement> _arrivals = Channel.CreateUnbounded<JsonElement>();
    private Task _receiving = Task.CompletedTask;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public WebSocketState State => _socket.State;

    public IReadOnlyList<JsonElement> Received
    {
        get
        {
            lock (_received)
            {
                return _received.ToArray();
            }
        }
    }

    /// <summary>Completes when the server closed the connection.</summary>
    public Task Closed => _receiving;

    public static async Task<WebSocketTestClient> ConnectAsync(Uri url, Action<ClientWebSocketOptions>? configure = null)
    {
        var client = new WebSocketTestClient();
        configure?.Invoke(client._socket.Options);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client._socket.ConnectAsync(url, timeout.Token);
        client._receiving = client.ReceiveLoopAsync();
        await client.WaitForAsync("hello");
        return client;
    }

    public Task SendAsync(object message) => SendRawAsync(JsonSerializer.Serialize(message));

    public async Task SendRawAsync(string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
    }

    public async Task<JsonElement> JoinAsync(string room, string nick, long? after = null, string? token = null, string? historyId = null)
    {
        await SendAsync(new { type = "join", room, nick, after, token, historyId });
        return await WaitForAsync("joined", m => m.Str("room") == room);
    }

    public IReadOnlyList<JsonElement> OfType(string type) => Received.Where(m => m.Str("type") == type).ToArray();

    /// <summary>Waits (at most 10 s) for a message of the type matching the predicate, already received or not.</summary>
    public Task<JsonElement> WaitForAsync(string type, Func<JsonElement, bool>? predicate = null, TimeSpan? timeout = null) =>
        WaitForAnyAsync(m => m.Str("type") == type && (predicate is null || predicate(m)), $"a '{type}' message", timeout);

    /// <summary>Waits (at most 10 s) for a message matching the predicate, already received or not.</summary>
    public async Task<JsonElement> WaitForAnyAsync(Func<JsonElement, bool> predicate, string description = "the message", TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            JsonElement? found = Received.Cast<JsonElement?>().FirstOrDefault(m => predicate(m!.Value));
            if (found is not null)
            {
                return found.Value;
            }

            try
            {
                if (!await _arrivals.Reader.WaitToReadAsync(cancel.Token))
                {
                    if (Received.Any(predicate))
                    {
                        continue;
                    }

                    Assert.Fail($"The connection closed before {description} arrived; received: {string.Join(" ", Received.Select(m => m.GetRawText()))}");
                }

                while (_arrivals.Reader.TryRead(out _))
                {
                }
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"{description} did not arrive in time; received: {string.Join(" ", Received.Select(m => m.GetRawText()))}");
            }
        }
    }

    /// <summary>Waits until <paramref name="count"/> messages of the type have arrived, and returns them.</summary>
    public async Task<IReadOnlyList<JsonElement>> WaitForCountAsync(string type, int count, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (OfType(type).Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Only {OfType(type).Count} of {count} '{type}' messages arrived in time.");
            }

            await Task.Delay(20);
        }

        return OfType(type);
    }

    /// <summary>Drops the TCP connection without a closing handshake, like a phone losing its network.</summary>
    public void Abort() => _socket.Abort();

    public async Task CloseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await CloseAsync();
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
            }
        }

        _socket.Abort();
        await _receiving.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _socket.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                int length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                using JsonDocument document = JsonDocument.Parse(buffer.AsMemory(0, length));
                lock (_received)
                {
                    _received.Add(document.RootElement.Clone());
                }

                _arrivals.Writer.TryWrite(default);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _arrivals.Writer.TryComplete();
        }
    }
}
