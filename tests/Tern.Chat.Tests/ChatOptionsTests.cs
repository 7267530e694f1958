namespace Tern.Chat.Tests;

public sealed class ChatOptionsTests
{
    private static readonly Dictionary<string, string?> s_noEnvironment = [];

    [Fact]
    public void Defaults_are_localhost_8080_and_tern_chat_db()
    {
        ChatOptions options = ChatOptions.Load([], s_noEnvironment);

        Assert.Equal(8080, options.Port);
        Assert.Equal("localhost", options.Host);
        Assert.Equal("tern-chat.db", options.DatabasePath);
        Assert.False(options.SecureCookies);
        Assert.Equal(30, options.SessionDays);
        Assert.Equal(64, options.MaxConnectionsPerAddress);
        Assert.Equal(["localhost", "127.0.0.1", "[::1]"], options.GetAllowedHostList());
        Assert.Empty(options.AllowedOriginList);
        Assert.False(options.ShowHelp);
    }

    [Fact]
    public void Postgres_is_off_by_default_and_set_by_switch_or_environment()
    {
        const string connection = "Host=db;Username=chat;Database=chat";
        Assert.Null(ChatOptions.Load([], s_noEnvironment).Postgres);
        Assert.Equal(connection, ChatOptions.Load(["--postgres", connection], s_noEnvironment).Postgres);
        Assert.Equal(connection, ChatOptions.Load([], new Dictionary<string, string?> { ["TERN_CHAT_POSTGRES"] = connection }).Postgres);
        Assert.Contains("--postgres <connection string>", ChatOptions.Usage, StringComparison.Ordinal);
    }

    [Fact]
    public void Deflate_is_on_by_default_and_deflate_false_turns_it_off()
    {
        Assert.True(ChatOptions.Load([], s_noEnvironment).Deflate);
        Assert.False(ChatOptions.Load(["--deflate", "false"], s_noEnvironment).Deflate);
        Assert.False(ChatOptions.Load([], new Dictionary<string, string?> { ["TERN_CHAT_DEFLATE"] = "false" }).Deflate);
    }

    [Fact]
    public void Environment_variables_set_the_options_and_the_command_line_wins()
    {
        var environment = new Dictionary<string, string?>
        {
            ["TERN_CHAT_PORT"] = "9000", ["TERN_CHAT_HOST"] = "0.0.0.0", ["TERN_CHAT_DB"] = "/tmp/x.db", ["OTHER_PORT"] = "1",
            ["TERN_CHAT_HUB__RATELIMITCOUNT"] = "7", ["TERN_CHAT_ACCOUNTS__SIGNUPLIMIT"] = "2", ["TERN_CHAT_MAXCONNECTIONSPERADDRESS"] = "0",
        };

        ChatOptions fromEnvironment = ChatOptions.Load([], environment);
        ChatOptions overridden = ChatOptions.Load(["--port", "9001", "--db=:memory:", "--secure-cookies", "true"], environment);

        Assert.Equal((9000, "0.0.0.0", "/tmp/x.db", false), (fromEnvironment.Port, fromEnvironment.Host, fromEnvironment.DatabasePath, fromEnvironment.SecureCookies));
        Assert.Equal((9001, "0.0.0.0", ":memory:", true), (overridden.Port, overridden.Host, overridden.DatabasePath, overridden.SecureCookies));
        Assert.Equal(7, fromEnvironment.Hub.RateLimitCount);
        Assert.Equal(2, fromEnvironment.Accounts.SignUpLimit);
        Assert.Equal(0, fromEnvironment.MaxConnectionsPerAddress);
    }

    [Fact]
    public void Host_and_origin_lists_are_comma_separated_and_star_allows_any_host()
    {
        ChatOptions listed = ChatOptions.Load(["--allowed-hosts", "chat.example.com, localhost", "--allowed-origins", "https://chat.example.com"], s_noEnvironment);
        ChatOptions any = ChatOptions.Load(["--allowed-hosts=*"], s_noEnvironment);
        ChatOptions everywhere = ChatOptions.Load(["--host", "0.0.0.0"], s_noEnvironment);
        ChatOptions named = ChatOptions.Load(["--host", "chat.internal"], s_noEnvironment);

        Assert.Equal(["chat.example.com", "localhost"], listed.GetAllowedHostList());
        Assert.Equal(["https://chat.example.com"], listed.AllowedOriginList);
        Assert.Empty(any.GetAllowedHostList());
        Assert.Empty(everywhere.GetAllowedHostList());
        Assert.Equal(["chat.internal"], named.GetAllowedHostList());
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Help_is_recognized(string flag) => Assert.True(ChatOptions.Load([flag], s_noEnvironment).ShowHelp);

    [Fact]
    public void The_usage_lists_every_option_and_its_variable()
    {
        foreach (string word in new[] { "--port", "--host", "--db", "--allowed-hosts", "--allowed-origins", "--secure-cookies", "--session-days", "--help",
                     "TERN_CHAT_PORT", "TERN_CHAT_HOST", "TERN_CHAT_DB", "TERN_CHAT_ALLOWEDHOSTS", "TERN_CHAT_SECURECOOKIES", "8080", "tern-chat.db", ":memory:" })
        {
            Assert.Contains(word, ChatOptions.Usage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Unknown option '--colour'.", "--colour", "red")]
    [InlineData("Option '--port' needs a value.", "--port")]
    [InlineData("Option '--db' needs a value.", "--db", "--port", "1")]
    [InlineData("'http' is not a valid value for --port (or TERN_CHAT_PORT). Run with --help to see the options.", "--port", "http")]
    [InlineData("'70000' is not a port number (0 to 65535) for --port (or TERN_CHAT_PORT).", "--port=70000")]
    [InlineData("'-1' is not a port number (0 to 65535) for --port (or TERN_CHAT_PORT).", "--port=-1")]
    [InlineData("Option '--host' needs a value.", "--host=")]
    [InlineData("--max-connections-per-address must be 0 (no limit) or more.", "--max-connections-per-address", "-1")]
    [InlineData("Sessions must last at least a day (--session-days 1 or more).", "--session-days", "0")]
    public void Mistakes_are_explained(string message, params string[] args)
    {
        ChatOptionsException error = Assert.Throws<ChatOptionsException>(() => ChatOptions.Load(args, s_noEnvironment));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Trusted_proxies_are_none_by_default_and_a_bad_entry_is_named()
    {
        Assert.Empty(ChatOptions.Load([], s_noEnvironment).TrustedProxyList);
        Assert.Equal(["127.0.0.1", "10.0.0.0/8", "fd00::/8"], ChatOptions.Load(["--trusted-proxies", "127.0.0.1, 10.0.0.0/8,fd00::/8"], s_noEnvironment).TrustedProxyList);
        Assert.Equal(["::1"], ChatOptions.Load([], new Dictionary<string, string?> { ["TERN_CHAT_TRUSTEDPROXIES"] = "::1" }).TrustedProxyList);
        Assert.Contains("--trusted-proxies <list>", ChatOptions.Usage, StringComparison.Ordinal);

        ChatOptionsException error = Assert.Throws<ChatOptionsException>(() => ChatOptions.Load(["--trusted-proxies", "127.0.0.1,nginx.internal"], s_noEnvironment));
        Assert.Contains("'nginx.internal'", error.Message, StringComparison.Ordinal);
        Assert.Contains("TERN_CHAT_TRUSTEDPROXIES", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_port_in_the_environment_names_the_variable()
    {
        ChatOptionsException error = Assert.Throws<ChatOptionsException>(() => ChatOptions.Load([], new Dictionary<string, string?> { ["TERN_CHAT_PORT"] = "eighty" }));

        Assert.Contains("TERN_CHAT_PORT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Certificate_options_load_PEM_or_PFX_and_refuse_incomplete_or_unreadable_ones()
    {
        string directory = Directory.CreateTempSubdirectory("tern-chat-tls-").FullName;
        try
        {
            (string certificate, string key) = Tern.TestSupport.TestCertificates.WritePem(Tern.TestSupport.TestCertificates.Localhost, directory);
            string pfx = Tern.TestSupport.TestCertificates.WritePfx(Tern.TestSupport.TestCertificates.Localhost, directory, "pw");

            Assert.Null(ChatOptions.Load([], s_noEnvironment).LoadTls());
            Assert.Equal(Tern.TestSupport.TestCertificates.Localhost.Thumbprint, ChatOptions.Load(["--cert", certificate, "--key", key], s_noEnvironment).LoadTls()!.Certificate!.Thumbprint);
            var fromEnvironment = new Dictionary<string, string?> { ["TERN_CHAT_PFX"] = pfx, ["TERN_CHAT_PFXPASSWORD"] = "pw" };
            Assert.Equal(Tern.TestSupport.TestCertificates.Localhost.Thumbprint, ChatOptions.Load([], fromEnvironment).LoadTls()!.Certificate!.Thumbprint);

            Assert.Contains("private key", Assert.Throws<ChatOptionsException>(() => ChatOptions.Load(["--cert", certificate], s_noEnvironment).LoadTls()).Message);
            Assert.Contains("missing.pem", Assert.Throws<ChatOptionsException>(() => ChatOptions.Load(["--cert", Path.Combine(directory, "missing.pem"), "--key", key], s_noEnvironment).LoadTls()).Message);
            Assert.Throws<ChatOptionsException>(() => ChatOptions.Load(["--pfx", pfx, "--pfx-password", "wrong"], s_noEnvironment).LoadTls());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
