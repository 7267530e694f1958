using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Tern.Package.Tests;

/// <summary>
/// <c>dotnet pack</c> of the library projects gives complete packages: every metadata field NuGet.org shows, the README,
/// the XML docs, and a symbols package. Packs the build output the tests were built with (--no-build), so it takes seconds.
/// </summary>
public sealed partial class PackageTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("tern-pack-").FullName;

    [Theory]
    [InlineData("Tern", "src/Tern/Tern.csproj")]
    [InlineData("Tern.Hosting", "src/Tern.Hosting/Tern.Hosting.csproj")]
    public async Task Pack_gives_a_package_with_metadata_readme_docs_and_symbols(string id, string project)
    {
        (int exitCode, string log) = await Repository.RunDotnetAsync(TimeSpan.FromMinutes(2),
            "pack", Repository.Combine(project), "-c", Repository.Configuration, "--no-build", "-o", _output, "-nologo");
        Assert.True(exitCode == 0, $"dotnet pack failed ({exitCode}):\n{log}");

        string version = ReadVersion();
        string package = Path.Combine(_output, $"{id}.{version}.nupkg");
        Assert.True(File.Exists(package), $"{package} is missing; the output has {string.Join(", ", Directory.GetFiles(_output).Select(Path.GetFileName))}");
        Assert.True(File.Exists(Path.Combine(_output, $"{id}.{version}.snupkg")), "the symbols package (.snupkg) is missing");

        using ZipArchive zip = ZipFile.OpenRead(package);
        XElement metadata = ReadNuspec(zip, id);
        string Field(string name) => metadata.Element(metadata.Name.Namespace + name)?.Value ?? "";

        Assert.Equal(id, Field("id"));
        Assert.Equal(version, Field("version"));
        Assert.False(string.IsNullOrWhiteSpace(Field("description")), "description is empty");
        Assert.False(string.IsNullOrWhiteSpace(Field("authors")), "authors is empty");
        Assert.Contains("websocket", Field("tags").Split(' '));
        Assert.Equal("MIT", Field("license"));
        Assert.Equal("expression", metadata.Element(metadata.Name.Namespace + "license")?.Attribute("type")?.Value);
        Assert.Equal("https://github.com/tern-ws/tern", Field("projectUrl"));

        XElement? repository = metadata.Element(metadata.Name.Namespace + "repository");
        Assert.NotNull(repository);
        Assert.Equal("git", repository.Attribute("type")?.Value);
        Assert.Equal("https://github.com/tern-ws/tern", repository.Attribute("url")?.Value);
        // The commit comes from SourceLink's git information: it ties the package to the sources it was built from.
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");

        string readme = Field("readme");
        Assert.False(string.IsNullOrEmpty(readme), "readme is not set");
        ZipArchiveEntry? readmeEntry = zip.GetEntry(readme);
        Assert.NotNull(readmeEntry);
        Assert.True(readmeEntry.Length > 200, "the package README is nearly empty");

        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.dll"));
        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml"));
    }

    [Fact]
    public void The_version_is_set_in_one_place()
    {
        // Directory.Build.props holds it; a <Version> in a project file would silently override it for that package.
        Assert.Matches(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$", ReadVersion());
        foreach (string project in Directory.GetFiles(Repository.Combine("src"), "*.csproj", SearchOption.AllDirectories))
        {
            Assert.DoesNotMatch(VersionElement(), File.ReadAllText(project));
        }
    }

    public void Dispose() => Directory.Delete(_output, recursive: true);

    private static string ReadVersion()
    {
        XDocument props = XDocument.Load(Repository.Combine("Directory.Build.props"));
        return props.Descendants("Version").Single().Value;
    }

    private static XElement ReadNuspec(ZipArchive zip, string id)
    {
        ZipArchiveEntry entry = zip.GetEntry($"{id}.nuspec") ?? throw new InvalidOperationException("no .nuspec in the package");
        using Stream stream = entry.Open();
        XDocument nuspec = XDocument.Load(stream);
        return nuspec.Root!.Element(nuspec.Root.Name.Namespace + "metadata")!;
    }

    [GeneratedRegex(@"<(Version|PackageVersion|VersionPrefix)>")]
    private static partial Regex VersionElement();
}
