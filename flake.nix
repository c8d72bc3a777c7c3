{
  # SixChat: a development shell with every tool the tests call, and the `sixchat` command built
  # reproducibly from package-lock.json.
  #
  #   nix develop              # shell: Node.js 20, a C++ toolchain for node-gyp, openssl, xmllint, PostgreSQL
  #   nix build                # ./result/bin/sixchat
  #   nix run . -- --help
  #
  # Inside the shell, `sixchat-pg-up` starts a throw-away PostgreSQL on 127.0.0.1:5432 (trust auth,
  # database `test`, data under .sixchat-test/pg) for the IRP storage tests; `sixchat-pg-down` stops it.
  description = "SixChat: direct end-to-end encrypted messaging (E2E port 4605) and its Identity Registration Protocol (IRP port 4604)";

  # A release branch (with `importNpmLock`, nixpkgs >= 24.05), so `nix flake lock` pins a tested set of
  # packages. No other input: the
  # per-system plumbing below is five lines and needs no flake-utils.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs =
    { self, nixpkgs }:
    let
      lib = nixpkgs.lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The checkout minus what `npm ci` / `npm run build` / the tests produce locally.
      source = lib.cleanSourceWith {
        src = lib.cleanSource ./.;
        filter =
          path: type:
          !(builtins.elem (baseNameOf path) [
            "node_modules"
            "dist"
            "coverage"
            ".sixchat-test"
            "result"
          ]);
      };

      # importNpmLock fetches a package only when its lock entry has a `resolved` URL, and npm leaves
      # those out when `omit-lockfile-registry-resolved` is set (it is on the machines this lockfile is
      # made on). Registry packages have a fixed URL: fill it in from the name and version; `integrity`,
      # already in the lockfile, is what pins the content.
      lock = lib.importJSON ./package-lock.json;
      registryUrl =
        path: module:
        let
          name = module.name or (lib.last (lib.splitString "node_modules/" path));
          base = lib.last (lib.splitString "/" name);
        in
        "https://registry.npmjs.org/${name}/-/${base}-${module.version}.tgz";
      lockWithUrls = lock // {
        packages = lib.mapAttrs (
          path: module:
          if path == "" || module ? resolved || module ? link || !(module ? integrity) then
            module
          else
            module // { resolved = registryUrl path module; }
        ) lock.packages;
      };
    in
    {
      packages = forAllSystems (
        pkgs:
        let
          nodejs = pkgs.nodejs_20;
          sixchat = pkgs.buildNpmPackage {
            pname = "sixchat";
            version = "0.1.0";
            src = source;
            inherit nodejs;

            # No npmDepsHash to keep in step: importNpmLock makes one fixed-output fetch per package,
            # checked against the `integrity` hash recorded in package-lock.json, and its config hook
            # points npm at those store paths (offline, as the sandbox requires).
            npmDeps = pkgs.importNpmLock {
              npmRoot = source;
              packageLock = lockWithUrls;
            };
            npmConfigHook = pkgs.importNpmLock.npmConfigHook;

            # better-sqlite3 is a native addon. Its install script tries `prebuild-install` (a download,
            # impossible in the sandbox) before `node-gyp rebuild`; --build-from-source skips straight to
            # node-gyp, which builds against the headers of `nodejs` (npmConfigHook sets npm_config_nodedir).
            npmFlags = [ "--build-from-source" ];
            # node-gyp and prebuild-install write into the npm cache during `npm rebuild`.
            makeCacheWritable = true;
            nativeBuildInputs =
              [
                pkgs.python3 # node-gyp
                pkgs.pkg-config
                pkgs.makeWrapper
              ]
              ++ lib.optionals pkgs.stdenv.hostPlatform.isDarwin [
                pkgs.cctools # libtool for node-gyp on macOS
              ];

            # `npm run build` (tsc -p tsconfig.build.json) compiles src/ into dist/.
            dontNpmBuild = false;
            npmBuildScript = "build";

            # The tests need loopback networking, openssl and xmllint; run them with `npm test` in `nix develop`.
            doCheck = false;

            # npmInstallHook copies the package's "files" (bin, dist, schema, docs, LICENSE) and the production
            # node_modules to $out/lib/node_modules/sixchat. Wrap bin/sixchat explicitly so the command
            # always runs under the Node.js it was built against, whatever `node` is on PATH.
            postInstall = ''
              rm -f "$out/bin/sixchat"
              makeWrapper ${lib.getExe nodejs} "$out/bin/sixchat" \
                --add-flags "$out/lib/node_modules/sixchat/bin/sixchat"
            '';

            meta = {
              description = "Direct, end-to-end encrypted messaging between people, and its IRP registry/CA";
              license = lib.licenses.mit;
              mainProgram = "sixchat";
              platforms = lib.platforms.unix;
            };
          };
        in
        {
          inherit sixchat;
          default = sixchat;
        }
      );

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      });

      devShells = forAllSystems (
        pkgs:
        let
          postgresql = pkgs.postgresql;
          pgUp = pkgs.writeShellScriptBin "sixchat-pg-up" ''
            set -euo pipefail
            dir="''${SIXCHAT_PGDATA:-$PWD/.sixchat-test/pg}"
            if [ ! -f "$dir/PG_VERSION" ]; then
              mkdir -p "$dir"
              ${postgresql}/bin/initdb -D "$dir" -U postgres --auth=trust >/dev/null
            fi
            ${postgresql}/bin/pg_ctl -D "$dir" -l "$dir/server.log" -w \
              -o "-h 127.0.0.1 -p 5432 -k $dir" start
            ${postgresql}/bin/createdb -h 127.0.0.1 -p 5432 -U postgres test 2>/dev/null || true
            echo "PostgreSQL on 127.0.0.1:5432, database test (stop it with sixchat-pg-down)"
          '';
          pgDown = pkgs.writeShellScriptBin "sixchat-pg-down" ''
            set -euo pipefail
            dir="''${SIXCHAT_PGDATA:-$PWD/.sixchat-test/pg}"
            ${postgresql}/bin/pg_ctl -D "$dir" -m fast stop
          '';
        in
        {
          default = pkgs.mkShell {
            packages = [
              pkgs.nodejs_20 # npm comes with it
              pkgs.python3 # node-gyp, for better-sqlite3
              pkgs.gcc
              pkgs.gnumake
              pkgs.pkg-config
              (lib.getBin pkgs.openssl) # the tests make certificates with the openssl CLI
              (lib.getBin pkgs.libxml2) # xmllint: the tests validate every emitted message against schema/*.xsd
              postgresql # the IRP storage tests (SqlRegistry on PostgreSQL)
              pgUp
              pgDown
            ];
            shellHook = ''
              export PATH="$PWD/node_modules/.bin:$PATH"
              echo "sixchat dev shell: node $(node --version), npm $(npm --version). npm ci && npm test; sixchat-pg-up for PostgreSQL tests."
            '';
          };
        }
      );
    };
}
