using Tern.TestSupport;
using System.Net;
using System.Text.Json;

namespace Tern.Chat.Tests.Browser;

/// <summary>permessage-deflate between headless Chromium and a Tern server: negotiated, and messages both ways intact.</summary>
[Collection(BrowserCollection.Name)]
public sealed class DeflateBrowserTests(BrowserFixture browser)
{
    private const string Script = """
        async ([url, message]) => {
            const ws = new WebSocket(url);
            await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('socket error')); });
            const echoes = [];
            for (const text of [message, 'small', message + '!']) {
                ws.send(text);
                echoes.push(await new Promise(resolve => ws.onmessage = e => resolve(e.data)));
            }
            const extensions = ws.extensions;
            ws.close(1000);
            return { extensions, echoes };
        }
        """;

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Chromium_negotiates_permessage_deflate_and_echoes(bool contextTakeover, bool secure)
    {
        var options = new WebSocketServerOptions
        {
            Compression = new WebSocketCompressionOptions { ServerContextTakeover = contextTakeover, ClientContextTakeover = contextTakeover },
            Tls = secure ? new WebSocketTlsOptions { Certificate = TestCertificates.Localhost } : null,
        };
        options.EndPoints.Add(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = new WebSocketServer(options);
        var negotiated = new List<string?>();
        server.MapFallback(async (connection, ct) =>
        {
            lock (negotiated)
            {
                negotiated.Add(connection.Extensions);
            }

            await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
            {
                await connection.SendAsync(message, ct);
            }
        });
        await server.StartAsync();
        // The test certificate is self-signed: the browser is told to accept it, as a user would an internal CA.
        await using var context = await browser.Browser.NewContextAsync(new() { IgnoreHTTPSErrors = secure });
        var page = await context.NewPageAsync();

        string message = JsonSerializer.Serialize(Enumerable.Range(0, 300).Select(i => new { id = i, user = "alice", text = "hello there ✓" }));
        JsonElement result = await page.EvaluateAsync<JsonElement>(Script, new object[] { $"{(secure ? "wss" : "ws")}://127.0.0.1:{server.LocalEndPoints[0].Port}/", message });

        string extensions = result.GetProperty("extensions").GetString()!;
        Assert.StartsWith("permessage-deflate", extensions);
        Assert.Equal(contextTakeover, !extensions.Contains("no_context_takeover"));
        Assert.Equal([message, "small", message + "!"], result.GetProperty("echoes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(extensions, Assert.Single(negotiated));
    }
}
