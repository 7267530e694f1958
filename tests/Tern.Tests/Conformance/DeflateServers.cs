using Tern.TestSupport;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Conformance;

/// <summary>
/// The server of category 12: the echo with permessage-deflate on and Tern's default compression settings (no context
/// takeover either way, messages under <see cref="WebSocketCompressionOptions.MinimumMessageSize"/> sent uncompressed),
/// which is also what <c>Tern.Echo --deflate</c> runs. Over TLS in the wss variants.
/// </summary>
public class DeflateServer : ConformanceServer
{
    private TempDirectory? _files;

    /// <summary>Messages of at least this many bytes are expected back compressed (when deflate shrinks them).</summary>
    internal int CompressionThreshold => RunsEchoSample ? new WebSocketCompressionOptions().MinimumMessageSize : Compression().MinimumMessageSize;

    /// <summary>Whether the server keeps its compression context between messages when the client lets it.</summary>
    internal bool TakesOverContext => !RunsEchoSample && Compression().ServerContextTakeover;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _files?.Dispose();
    }

    private protected virtual WebSocketCompressionOptions Compression() => new();

    /// <summary>The echo, and on /broadcast every message to every /broadcast connection (sender included), as in Tern.Echo.</summary>
    private protected override void Configure(WebSocketServer server)
    {
        var group = new System.Collections.Concurrent.ConcurrentDictionary<long, WebSocketConnection>();
        server.Map("/broadcast", async (connection, cancellationToken) =>
        {
            group[connection.Id] = connection;
            try
            {
                await foreach (WebSocketMessage message in connection.ReadMessagesAsync(cancellationToken))
                {
                    IEnumerable<WebSocketConnection> everyone = group.Select(entry => entry.Value);
                    await (message.IsText
                        ? server.BroadcastTextAsync(message.Data, everyone, cancellationToken)
                        : server.BroadcastBinaryAsync(message.Data, everyone, cancellationToken));
                }
            }
            finally
            {
                group.TryRemove(connection.Id, out _);
            }
        });
        TestServer.MapEcho(server);
    }

    private protected override void ConfigureOptions(WebSocketServerOptions options)
    {
        options.Compression = Compression();
        if (UseTls)
        {
            options.Tls = TestCertificates.ServerOptions();
        }
    }

    private protected override string[]? SampleArguments()
    {
        if (!UseTls)
        {
            return ["--deflate"];
        }

        _files = new TempDirectory();
        (string certificate, string key) = TestCertificates.WritePem(TestCertificates.Localhost, _files.Path);
        return ["--deflate", "--cert", certificate, "--key", key];
    }
}

/// <summary>
/// The server of category 13: permessage-deflate with context takeover allowed both ways and every message of 32 bytes
/// or more compressed, so that the parameters the client offers decide what happens (and smaller messages, sent
/// uncompressed, come between compressed ones in the same context). Against samples/Tern.Echo it is the sample's
/// <c>--deflate</c>, with the defaults.
/// </summary>
public class DeflateTakeoverServer : DeflateServer
{
    private protected override WebSocketCompressionOptions Compression() => new()
    {
        ServerContextTakeover = true,
        ClientContextTakeover = true,
        MinimumMessageSize = 32,
    };
}

/// <summary><see cref="DeflateServer"/> over TLS.</summary>
public class WssDeflateServer : DeflateServer
{
    internal override bool UseTls => true;
}

/// <summary><see cref="DeflateTakeoverServer"/> over TLS.</summary>
public class WssDeflateTakeoverServer : DeflateTakeoverServer
{
    internal override bool UseTls => true;
}

// Categories 12 and 13 again, over wss (as WssCases.cs does for 1 to 10).
public class Case12CompressionPayloadWssTests(WssDeflateServer server) : Case12CompressionPayloadTests(server), IClassFixture<WssDeflateServer>;

public class Case13CompressionParameterWssTests(WssDeflateTakeoverServer server, Xunit.Abstractions.ITestOutputHelper output)
    : Case13CompressionParameterTests(server, output), IClassFixture<WssDeflateTakeoverServer>;
