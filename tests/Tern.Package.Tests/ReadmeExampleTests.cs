using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Tern.Package.Tests;

/// <summary>The README's first example is samples/Tern.Readme, word for word, and does what the README says.</summary>
public sealed partial class ReadmeExampleTests
{
    [Theory]
    [InlineData("README.md")]
    [InlineData("src/Tern/PACKAGE.md")]
    public void The_first_csharp_block_is_the_sample_program(string document)
    {
        string markdown = File.ReadAllText(Repository.Combine(document.Split('/')));
        Match block = CSharpBlock().Match(markdown);
        Assert.True(block.Success, $"{document} has no ```csharp block");

        string program = File.ReadAllText(Repository.Combine("samples", "Tern.Readme", "Program.cs"));
        Assert.Equal(Normalize(program), Normalize(block.Groups[1].Value));
    }

    [Fact]
    public async Task The_example_listens_on_9000_stays_up_without_a_terminal_echoes_and_stops_on_ctrl_c()
    {
        string dll = Repository.Combine("samples", "Tern.Readme", "bin", Repository.Configuration, "net10.0", "Tern.Readme.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first.");
        // Standard input is redirected and closed at once: the old Console.ReadLine() example returned immediately then.
        var startInfo = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using Process process = Process.Start(startInfo)!;
        try
        {
            process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            string? line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.Equal("Listening on ws://127.0.0.1:9000/echo (Ctrl+C to stop)", line);

            await Task.Delay(500, timeout.Token);
            Assert.False(process.HasExited, "the example exited without Ctrl+C");

            using var client = new ClientWebSocket();
            await client.ConnectAsync(new Uri("ws://127.0.0.1:9000/echo"), timeout.Token);
            await client.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, true, timeout.Token);
            var buffer = new byte[64];
            WebSocketReceiveResult echoed = await client.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, echoed.Count));

            // Ctrl+C is SIGINT.
            using (Process kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(timeout.Token);
            }

            WebSocketReceiveResult closed = await client.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, closed.CloseStatus);
            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    private static string Normalize(string code) => code.ReplaceLineEndings("\n").Trim();

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
