package realservers

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DependencyPlugin is the one maven-dependency-plugin every Maven call
// uses: 3.8.1 runs on Maven 3.6.3 and later (the machines have 3.8.7).
const DependencyPlugin = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

// Artifact versions outside the POMs (tar.gz archives fetched with
// dependency:copy). The POMs under infra/ pin the rest.
const (
	// DebeziumPostgresVersion is the Debezium PostgreSQL source plugin:
	// 3.6.1.Final is built against Kafka 4.3.0.
	DebeziumPostgresVersion = "3.6.1.Final"
	// DebeziumJDBCVersion is the Debezium JDBC sink plugin: Central serves
	// no 3.6.1.Final of it (nor 3.6.2, 3.6.3); 3.6.0.Final is the newest of
	// the 3.6 line that resolves.
	DebeziumJDBCVersion = "3.6.0.Final"
	// ApicurioVersion is Apicurio Registry, the Quarkus fast-jar archive
	// (classifier "all"). It is compiled for Java 21.
	ApicurioVersion = "3.3.3"
)

// fetcher resolves artifacts with Maven into a cache folder:
//
//	<cache>/m2/            Maven's local repository (-Dmaven.repo.local)
//	<cache>/classpath/     resolved classpaths, one file per POM content hash
//	<cache>/dist/          unpacked archives (Debezium plugins, Apicurio)
//
// A cached result is reused while its inputs (the POM's bytes, the
// artifact coordinates) are unchanged, so a warm run calls Maven not at all.
type fetcher struct {
	cache string
	infra string // the repository's infra/ folder
	log   io.Writer
}

func (f *fetcher) mvn(args ...string) error {
	if _, err := exec.LookPath("mvn"); err != nil {
		return fmt.Errorf("find mvn: %w (install Maven 3.6.3+: apt-get install -y maven)", err)
	}
	full := append([]string{"-B", "-q", "-Dmaven.repo.local=" + filepath.Join(f.cache, "m2")}, args...)
	fmt.Fprintf(f.log, "  mvn %s\n", strings.Join(args, " "))
	cmd := exec.Command("mvn", full...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mvn %s: %w\n%s", strings.Join(args, " "), err, lastLines(string(out), 30))
	}
	return nil
}

func hashOf(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// classpath resolves the runtime classpath of infra/<name>/pom.xml and
// returns its jars joined by ':'.
func (f *fetcher) classpath(name string) (string, error) {
	pom := filepath.Join(f.infra, name, "pom.xml")
	b, err := os.ReadFile(pom)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", pom, err)
	}
	out := filepath.Join(f.cache, "classpath", name+"-"+hashOf(b)+".txt")
	if cp, err := os.ReadFile(out); err == nil && jarsExist(string(cp)) {
		return strings.TrimSpace(string(cp)), nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("create classpath cache: %w", err)
	}
	tmp := out + ".tmp-" + randomID(4)
	defer os.Remove(tmp)
	if err := f.mvn("-f", pom, DependencyPlugin+":build-classpath", "-Dmdep.includeScope=runtime", "-Dmdep.outputFile="+tmp); err != nil {
		return "", fmt.Errorf("resolve %s: %w", name, err)
	}
	cp, err := os.ReadFile(tmp)
	if err != nil || !jarsExist(string(cp)) {
		return "", fmt.Errorf("resolve %s: Maven wrote no usable classpath (%v)", name, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("cache classpath: %w", err)
	}
	return strings.TrimSpace(string(cp)), nil
}

func jarsExist(cp string) bool {
	cp = strings.TrimSpace(cp)
	if cp == "" {
		return false
	}
	for _, j := range strings.Split(cp, string(os.PathListSeparator)) {
		if _, err := os.Stat(j); err != nil {
			return false
		}
	}
	return true
}

// copyDeps copies the runtime dependencies of infra/<name>/pom.xml into a
// cached folder and returns it (used for a Connect plugin folder, which
// must hold the jars themselves).
func (f *fetcher) copyDeps(name string) (string, error) {
	pom := filepath.Join(f.infra, name, "pom.xml")
	b, err := os.ReadFile(pom)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", pom, err)
	}
	dir := filepath.Join(f.cache, "dist", name+"-"+hashOf(b))
	if complete(dir) {
		return dir, nil
	}
	tmp := dir + ".tmp-" + randomID(4)
	defer os.RemoveAll(tmp)
	if err := f.mvn("-f", pom, DependencyPlugin+":copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory="+tmp); err != nil {
		return "", fmt.Errorf("resolve %s: %w", name, err)
	}
	return dir, publish(tmp, dir)
}

// publish marks tmp complete and renames it to dir, unless another run
// published dir meanwhile.
func publish(tmp, dir string) error {
	if err := markComplete(tmp); err != nil {
		return err
	}
	if complete(dir) {
		return nil
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("publish %s: %w", dir, err)
	}
	return nil
}

// archive fetches one tar.gz artifact (group:artifact:version:tar.gz:classifier)
// and unpacks it into a cached folder, which it returns.
func (f *fetcher) archive(coords string) (string, error) {
	parts := strings.Split(coords, ":")
	if len(parts) != 5 || parts[3] != "tar.gz" {
		return "", fmt.Errorf("archive coordinates %q: want group:artifact:version:tar.gz:classifier", coords)
	}
	dir := filepath.Join(f.cache, "dist", parts[1]+"-"+parts[2]+"-"+parts[4])
	if complete(dir) {
		return dir, nil
	}
	dl := filepath.Join(f.cache, "download")
	if err := f.mvn(DependencyPlugin+":copy", "-Dartifact="+coords, "-DoutputDirectory="+dl); err != nil {
		return "", fmt.Errorf("fetch %s: %w", coords, err)
	}
	file := filepath.Join(dl, parts[1]+"-"+parts[2]+"-"+parts[4]+".tar.gz")
	tmp := dir + ".tmp-" + randomID(4)
	defer os.RemoveAll(tmp)
	if err := untar(file, tmp); err != nil {
		return "", fmt.Errorf("unpack %s: %w", coords, err)
	}
	if err := publish(tmp, dir); err != nil {
		return "", err
	}
	os.Remove(file) // the unpacked folder is the cache; Maven keeps its own copy in m2
	return dir, nil
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".complete"))
	return err == nil
}

func markComplete(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, ".complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return fmt.Errorf("mark %s complete: %w", dir, err)
	}
	return nil
}

// untar unpacks a gzipped tar into dir, refusing entries that would land
// outside it.
func untar(file, dir string) error {
	fh, err := os.Open(file)
	if err != nil {
		return err
	}
	defer fh.Close()
	gz, err := gzip.NewReader(fh)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, h.Name)
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator)) {
			return fmt.Errorf("entry %q leaves the target folder", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, os.FileMode(h.Mode)&0o755|0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
