using SpecializedInfer.Hub;
using SpecializedInfer.Tests.Gguf;

namespace SpecializedInfer.Tests.Hub;

/// <summary>The lookup order: explicit path, hf:, SPECIALIZEDINFER_MODELS, ../shared/models, the cache.</summary>
public sealed class ModelResolverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-resolve-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Folder(string name, params string[] files)
    {
        var folder = Path.Combine(_dir, name);
        Directory.CreateDirectory(folder);
        foreach (var file in files) File.WriteAllText(Path.Combine(folder, file), name);
        return folder;
    }

    private ModelResolver Resolver(Uri? endpoint = null, params ModelFolder[] folders) =>
        new(new HubSettings(endpoint ?? new Uri("http://127.0.0.1:9"), null, Path.Combine(_dir, "cache")), folders);

    [Fact]
    public void An_explicit_path_comes_first()
    {
        var explicitPath = Path.Combine(Folder("here", "m.gguf"), "m.gguf");
        var resolver = Resolver(null, new ModelFolder(Folder("env", "m.gguf"), ModelResolver.ModelsVariable));
        Assert.Equal(explicitPath, resolver.Resolve(explicitPath));
    }

    [Fact]
    public void A_bare_name_is_looked_for_in_the_model_folders_in_order_then_in_the_cache()
    {
        var env = new ModelFolder(Folder("env", "a.gguf"), ModelResolver.ModelsVariable);
        var shared = new ModelFolder(Folder("shared", "a.gguf", "b.gguf"), "../shared/models");
        var cached = Path.Combine(_dir, "cache", "converted", "karpathy", "tinyllamas", "c.gguf");
        Directory.CreateDirectory(Path.GetDirectoryName(cached)!);
        File.WriteAllText(cached, "cache");
        var resolver = Resolver(null, env, shared);

        Assert.Equal(Path.Combine(env.Path, "a.gguf"), resolver.Resolve("a.gguf"));
        Assert.Equal(Path.Combine(shared.Path, "b.gguf"), resolver.Resolve("b.gguf"));
        Assert.Equal(cached, resolver.Resolve("c.gguf"));
    }

    [Fact]
    public void A_name_found_nowhere_lists_every_place_looked_at()
    {
        var shared = new ModelFolder(Path.Combine(_dir, "absent"), "../shared/models");

        var error = Assert.Throws<ModelNotFoundException>(() => Resolver(null, shared).Resolve("nothing.gguf"));

        Assert.Contains(shared.Path + " (../shared/models; the folder does not exist)", error.Message);
        Assert.Contains(Path.Combine(_dir, "cache") + " (the download cache)", error.Message);
        Assert.Contains("SPECIALIZEDINFER_MODELS (not set)", error.Message);
        Assert.Contains("hf:OWNER/REPO/FILE", error.Message);
    }

    [Fact]
    public void A_path_with_a_folder_is_not_searched_for()
    {
        var env = new ModelFolder(Folder("env", "a.gguf"), ModelResolver.ModelsVariable);
        var missing = Path.Combine(_dir, "elsewhere", "a.gguf");

        var error = Assert.Throws<ModelNotFoundException>(() => Resolver(null, env).Resolve(missing));

        Assert.Equal($"The model file {missing} does not exist.", error.Message);
    }

    [Fact]
    public void Two_cached_models_of_one_name_are_ambiguous()
    {
        foreach (var repo in new[] { "a", "b" })
        {
            var path = Path.Combine(_dir, "cache", "hf", "owner", repo, "m.gguf");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, repo);
        }

        var error = Assert.Throws<ModelNotFoundException>(() => Resolver().Resolve("m.gguf"));

        Assert.Contains("The cache has 2 models named m.gguf", error.Message);
    }

    [Fact]
    public void A_file_still_downloading_is_not_found_in_the_cache()
    {
        var partial = Path.Combine(_dir, "cache", "hf", "owner", "repo", "m.gguf.partial");
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        File.WriteAllText(partial, "half");

        Assert.Throws<ModelNotFoundException>(() => Resolver().Resolve("m.gguf"));
    }

    [Fact]
    public void An_hf_reference_is_pulled_into_the_cache_before_the_folders_are_looked_at()
    {
        using var hub = new FakeHub();
        hub.Add("owner/repo/stories260K.gguf", ShippedModels.GgufBytes());
        var env = new ModelFolder(Folder("env", "stories260K.gguf"), ModelResolver.ModelsVariable);

        var path = Resolver(hub.Endpoint, env).Resolve("hf:owner/repo/stories260K.gguf");

        Assert.Equal(Path.Combine(_dir, "cache", "hf", "owner", "repo", "stories260K.gguf"), path);
        Assert.Equal(ShippedModels.GgufBytes(), File.ReadAllBytes(path));
    }

    [Fact]
    public async Task The_local_resolver_finds_a_pulled_model_and_never_downloads()
    {
        using var hub = new FakeHub();
        hub.Add("owner/repo/stories260K.gguf", ShippedModels.GgufBytes());
        var cacheDirectory = Path.Combine(_dir, "cache");
        var local = ModelResolver.Local(cacheDirectory);

        var error = Assert.Throws<ModelNotFoundException>(() => local.Resolve("hf:owner/repo/stories260K.gguf"));
        Assert.Contains("run si pull hf:owner/repo/stories260K.gguf first", error.Message);
        Assert.Empty(hub.Server.Requests);

        var pulled = await Resolver(hub.Endpoint).ResolveAsync("hf:owner/repo/stories260K.gguf");
        Assert.Equal(pulled, local.Resolve("hf:owner/repo/stories260K.gguf"));
    }

    [Fact]
    public void The_test_models_resolve_through_the_same_resolver()
    {
        Assert.Equal(ModelResolver.FromEnvironment().Resolve("stories260K.gguf"), ModelLocator.Find("stories260K.gguf"));
        Assert.Equal(ModelResolver.Local().Resolve("stories260K.gguf"), ModelLocator.Find("stories260K.gguf"));
        Assert.True(File.Exists(ModelLocator.Find("stories260K.gguf")));
    }
}
