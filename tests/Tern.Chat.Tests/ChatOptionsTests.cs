namespace Tern.Chat.Tests;

public sealed class ChatOptionsTests
{
    private static readonly Func<string, string?> s_noEnvironment = _ => null;

    [Fact]
    public void Defaults_are_localhost_8080_and_tern_chat_db()
    {
        ChatOptions options = ChatOptions.Parse([], s_noEnvironment);

        Assert.Equal(8080, options.Port);
        Assert.Equal("localhost", options.Host);
        Assert.Equal("tern-chat.db", options.DatabasePath);
        Assert.False(options.ShowHelp);
    }

    [Fact]
    public void Environment_variables_set_the_options_and_the_command_line_wins()
    {
        var environment = new Dictionary<string, string?> { ["TERN_CHAT_PORT"] = "9000", ["TERN_CHAT_HOST"] = "0.0.0.0", ["TERN_CHAT_DB"] = "/tmp/x.db" };

        ChatOptions fromEnvironment = ChatOptions.Parse([], name => environment.GetValueOrDefault(name));
        ChatOptions overridden = ChatOptions.Parse(["--port", "9001", "--db=:memory:"], name => environment.GetValueOrDefault(name));

        Assert.Equal((9000, "0.0.0.0", "/tmp/x.db"), (fromEnvironment.Port, fromEnvironment.Host, fromEnvironment.DatabasePath));
        Assert.Equal((9001, "0.0.0.0", ":memory:"), (overridden.Port, overridden.Host, overridden.DatabasePath));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Help_is_recognized(string flag) => Assert.True(ChatOptions.Parse([flag], s_noEnvironment).ShowHelp);

    [Fact]
    public void The_usage_lists_every_option_and_its_variable()
    {
        foreach (string word in new[] { "--port", "--host", "--db", "--help", "TERN_CHAT_PORT", "TERN_CHAT_HOST", "TERN_CHAT_DB", "8080", "tern-chat.db", ":memory:" })
        {
            Assert.Contains(word, ChatOptions.Usage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Unknown option '--colour'.", "--colour")]
    [InlineData("Option '--port' needs a value.", "--port")]
    [InlineData("Option '--db' needs a value.", "--db", "--port", "1")]
    [InlineData("'http' is not a port number (0 to 65535) for --port.", "--port", "http")]
    [InlineData("'70000' is not a port number (0 to 65535) for --port.", "--port=70000")]
    [InlineData("'-1' is not a port number (0 to 65535) for --port.", "--port=-1")]
    [InlineData("Option '--host' needs a value.", "--host=")]
    public void Mistakes_are_explained(string message, params string[] args)
    {
        ChatOptionsException error = Assert.Throws<ChatOptionsException>(() => ChatOptions.Parse(args, s_noEnvironment));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void A_bad_port_in_the_environment_names_the_variable()
    {
        ChatOptionsException error = Assert.Throws<ChatOptionsException>(() => ChatOptions.Parse([], name => name == "TERN_CHAT_PORT" ? "eighty" : null));

        Assert.Contains("TERN_CHAT_PORT", error.Message, StringComparison.Ordinal);
    }
}
