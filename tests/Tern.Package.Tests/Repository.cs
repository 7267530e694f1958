using System.Diagnostics;

namespace Tern.Package.Tests;

/// <summary>Paths in the repository, and running the dotnet CLI and the samples built alongside the tests.</summary>
internal static class Repository
{
    /// <summary>The build configuration the tests were built in (Debug or Release): the samples and packages use the same.</summary>
    public static string Configuration { get; } =
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;

    public static string Root { get; } = FindRoot();

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/> and returns its exit code and output; kills it on timeout.</summary>
    public static async Task<(int ExitCode, string Output)> RunDotnetAsync(TimeSpan timeout, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Root };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(startInfo)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        return (process.ExitCode, await output + await error);
    }

    private static string FindRoot()
    {
        for (string? directory = AppContext.BaseDirectory; directory is not null; directory = Path.GetDirectoryName(directory))
        {
            if (File.Exists(Path.Combine(directory, "Tern.slnx")))
            {
                return directory;
            }
        }

        throw new InvalidOperationException($"No Tern.slnx above {AppContext.BaseDirectory}.");
    }
}
