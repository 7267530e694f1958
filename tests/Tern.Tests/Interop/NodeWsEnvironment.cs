using System.Text.Json;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Interop;

/// <summary>
/// Makes the Node <c>ws</c> client in tests/interop/node runnable once per test run: checks that <c>node</c> is on
/// PATH and runs <c>npm ci</c> when node_modules is missing or does not hold the version the lock file pins.
/// </summary>
public sealed class NodeWsEnvironment : IAsyncLifetime
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(3);

    private string? _problem;

    /// <summary>tests/interop/node.</summary>
    public string Directory { get; } = RepositoryPaths.Combine("tests", "interop", "node");

    /// <summary>The node version, for the test log.</summary>
    public string NodeVersion { get; private set; } = "";

    /// <summary>The ws version installed (the one package-lock.json pins).</summary>
    public string WsVersion { get; private set; } = "";

    public async Task InitializeAsync()
    {
        try
        {
            ChildProcessResult version = await ChildProcess.RunAsync("node", ["--version"], Directory, TimeSpan.FromSeconds(30));
            NodeVersion = version.StandardOutput.Trim();
            string pinned = ReadVersion(Path.Combine(Directory, "package-lock.json"), lockFile: true);
            string installedManifest = Path.Combine(Directory, "node_modules", "ws", "package.json");
            if (!File.Exists(installedManifest) || ReadVersion(installedManifest, lockFile: false) != pinned)
            {
                ChildProcessResult install = await ChildProcess.RunAsync("npm", ["ci", "--no-audit", "--no-fund"], Directory, InstallTimeout);
                if (install.ExitCode != 0)
                {
                    _problem = $"npm ci in {Directory} failed: {install}";
                    return;
                }
            }

            WsVersion = ReadVersion(installedManifest, lockFile: false);
            if (WsVersion != pinned)
            {
                _problem = $"node_modules holds ws {WsVersion}, but package-lock.json pins {pinned}.";
            }
        }
        catch (Exception e)
        {
            _problem = $"The Node interop client cannot run: {e.Message}";
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Fails the test with the reason when node or ws is unavailable (a missing tool is a failure, not a skip).</summary>
    public void EnsureReady()
    {
        if (_problem is not null)
        {
            Assert.Fail(_problem);
        }
    }

    private static string ReadVersion(string path, bool lockFile)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement element = lockFile ? document.RootElement.GetProperty("packages").GetProperty("node_modules/ws") : document.RootElement;
        return element.GetProperty("version").GetString()!;
    }
}
