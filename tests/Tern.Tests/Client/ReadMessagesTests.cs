using System.Runtime.CompilerServices;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Client;

/// <summary>
/// The contract of <see cref="WebSocketConnection.ReadMessagesAsync"/>: one reader at a time, a reader that can be
/// replaced once disposed, and both ways of passing a cancellation token. Driven from Tern's client against the echo server.
/// </summary>
public class ReadMessagesTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_second_reader_is_refused_while_the_first_reads_on()
    {
        await using TestServer server = await TestServer.StartAsync();
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri());
        await using IAsyncEnumerator<WebSocketMessage> first = client.ReadMessagesAsync().GetAsyncEnumerator();
        ValueTask<bool> waiting = first.MoveNextAsync();

        await using IAsyncEnumerator<WebSocketMessage> second = client.ReadMessagesAsync().GetAsyncEnumerator();
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(async () => await second.MoveNextAsync());
        Assert.Contains("one reader", refused.Message, StringComparison.Ordinal);

        await client.SendTextAsync("still mine");
        Assert.True(await waiting.AsTask().WaitAsync(Patience));
        Assert.Equal("still mine", first.Current.GetText());
    }

    [Fact]
    public async Task Leaving_an_await_foreach_lets_the_next_one_read_the_following_messages()
    {
        await using TestServer server = await TestServer.StartAsync();
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri());
        await client.SendTextAsync("one");
        await client.SendTextAsync("two");

        var seen = new List<string>();
        for (int reader = 0; reader < 2; reader++)
        {
            await foreach (WebSocketMessage message in client.ReadMessagesAsync())
            {
                seen.Add(message.GetText());
                break;
            }
        }

        Assert.Equal(["one", "two"], seen);
    }

    [Fact]
    public Task The_token_given_to_ReadMessagesAsync_ends_the_wait_and_the_connection_reads_on() =>
        AssertCancelEndsTheWaitAsync((client, token) => ReadAllAsync(client.ReadMessagesAsync(token)));

    [Fact]
    public async Task The_token_given_with_WithCancellation_ends_the_wait_too_also_next_to_another_token()
    {
        using var never = new CancellationTokenSource();
        await AssertCancelEndsTheWaitAsync((client, token) => ReadAllAsync(client.ReadMessagesAsync(never.Token).WithCancellation(token)));
    }

    [Fact]
    public async Task The_enumeration_ends_when_the_peer_closes()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
            await connection.CloseAsync(WebSocketCloseCode.PolicyViolation, "go away", ct)));
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri());

        using var timeout = new CancellationTokenSource(Patience);
        int count = 0;
        await foreach (WebSocketMessage message in client.ReadMessagesAsync().WithCancellation(timeout.Token))
        {
            count++;
        }

        Assert.Equal(0, count);
        Assert.Equal(WebSocketCloseCode.PolicyViolation, client.CloseInfo!.Code);
        Assert.Equal("go away", client.CloseInfo.Reason);
    }

    private static async Task ReadAllAsync(IAsyncEnumerable<WebSocketMessage> messages)
    {
        await foreach (WebSocketMessage message in messages)
        {
            Assert.Fail($"nothing was sent, yet '{message.GetText()}' arrived");
        }
    }

    private static async Task ReadAllAsync(ConfiguredCancelableAsyncEnumerable<WebSocketMessage> messages)
    {
        await foreach (WebSocketMessage message in messages)
        {
            Assert.Fail($"nothing was sent, yet '{message.GetText()}' arrived");
        }
    }

    /// <summary>Starts a read that waits (nothing is sent), cancels it, then checks the connection still reads.</summary>
    private static async Task AssertCancelEndsTheWaitAsync(Func<WebSocketConnection, CancellationToken, Task> read)
    {
        await using TestServer server = await TestServer.StartAsync();
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri());
        using var cancel = new CancellationTokenSource();

        Task reading = read(client, cancel.Token);
        await Task.Delay(50);
        Assert.False(reading.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(Patience));

        await client.SendTextAsync("after the cancel");
        await using IAsyncEnumerator<WebSocketMessage> reader = client.ReadMessagesAsync().GetAsyncEnumerator();
        Assert.True(await reader.MoveNextAsync().AsTask().WaitAsync(Patience));
        Assert.Equal("after the cancel", reader.Current.GetText());
    }
}
