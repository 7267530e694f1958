using Tern.TestSupport;

namespace Tern.Tests.Conformance;

/// <summary>The conformance server of <see cref="ConformanceServer"/> behind TLS: the same cases, over wss.</summary>
public class WssConformanceServer : ConformanceServer
{
    internal override bool UseTls => true;

    private readonly TempDirectory _files = new();

    private protected override void ConfigureOptions(WebSocketServerOptions options) => options.Tls = TestCertificates.ServerOptions();

    private protected override string[]? SampleArguments()
    {
        (string certificate, string key) = TestCertificates.WritePem(TestCertificates.Localhost, _files.Path);
        return ["--cert", certificate, "--key", key];
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _files.Dispose();
    }
}

// Categories 1 to 10 again, over wss: each class inherits every case of its ws counterpart and gets the TLS server as
// its fixture (the constructor asks for it by type; the inherited ws fixture is started too, and left unused).
public class Case1FramingWssTests(WssConformanceServer server) : Case1FramingTests(server), IClassFixture<WssConformanceServer>;

public class Case2PingPongWssTests(WssConformanceServer server) : Case2PingPongTests(server), IClassFixture<WssConformanceServer>;

public class Case3ReservedBitsWssTests(WssConformanceServer server) : Case3ReservedBitsTests(server), IClassFixture<WssConformanceServer>;

public class Case4OpcodeWssTests(WssConformanceServer server) : Case4OpcodeTests(server), IClassFixture<WssConformanceServer>;

public class Case5FragmentationWssTests(WssConformanceServer server) : Case5FragmentationTests(server), IClassFixture<WssConformanceServer>;

public class Case6Utf8WssTests(WssConformanceServer server) : Case6Utf8Tests(server), IClassFixture<WssConformanceServer>;

public class Case7CloseWssTests(WssConformanceServer server) : Case7CloseTests(server), IClassFixture<WssConformanceServer>;

public class Case9LimitsWssTests(WssConformanceServer server) : Case9LimitsTests(server), IClassFixture<WssConformanceServer>;

public class Case10MiscWssTests(WssConformanceServer server) : Case10MiscTests(server), IClassFixture<WssConformanceServer>;
