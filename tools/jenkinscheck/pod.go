package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// RootContainersAnnotation lists, comma-separated, the containers of a pod
// allowed to run as root; the pod must then set hostUsers: false.
const RootContainersAnnotation = "flask.ci/root-containers"

// pod holds the fields of a Pod the checks read; the rest is ignored.
type pod struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		ServiceAccountName           string           `yaml:"serviceAccountName"`
		AutomountServiceAccountToken *bool            `yaml:"automountServiceAccountToken"`
		HostNetwork                  bool             `yaml:"hostNetwork"`
		HostPID                      bool             `yaml:"hostPID"`
		HostIPC                      bool             `yaml:"hostIPC"`
		HostUsers                    *bool            `yaml:"hostUsers"`
		SecurityContext              securityContext  `yaml:"securityContext"`
		InitContainers               []container      `yaml:"initContainers"`
		Containers                   []container      `yaml:"containers"`
		Volumes                      []map[string]any `yaml:"volumes"`
	} `yaml:"spec"`
}

type securityContext struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	RunAsUser                *int  `yaml:"runAsUser"`
	Privileged               *bool `yaml:"privileged"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
		Add  []string `yaml:"add"`
	} `yaml:"capabilities"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type container struct {
	Name            string          `yaml:"name"`
	Image           string          `yaml:"image"`
	ImagePullPolicy string          `yaml:"imagePullPolicy"`
	SecurityContext securityContext `yaml:"securityContext"`
	Resources       struct {
		Requests map[string]any `yaml:"requests"`
		Limits   map[string]any `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// pinnedImage is registry/path:tag with a tag holding a digit (a version),
// optionally followed by a digest, or registry/path@sha256:digest.
var pinnedImage = regexp.MustCompile(`^[a-z0-9.-]+\.[a-z]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*)?(@sha256:[a-f0-9]{64})?$`)

// CheckPod returns the problems of one pod template, or none.
func CheckPod(data []byte) []string {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var p pod
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return []string{"empty file: a Pod is expected"}
		}
		return []string{fmt.Sprintf("invalid YAML: %v", err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return []string{"more than one YAML document: one Pod per file"}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if p.APIVersion != "v1" || p.Kind != "Pod" {
		add("apiVersion v1 and kind Pod expected, got %q %q", p.APIVersion, p.Kind)
	}
	s := p.Spec
	if s.ServiceAccountName == "" || s.ServiceAccountName == "default" {
		add("serviceAccountName must name the stage's own service account (its IAM role), not default")
	}
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
		add("automountServiceAccountToken must be false: agents need no Kubernetes API token")
	}
	if s.HostNetwork || s.HostPID || s.HostIPC {
		add("host namespaces (hostNetwork, hostPID, hostIPC) are not allowed")
	}
	if s.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
		add("spec.securityContext.seccompProfile.type must be RuntimeDefault")
	}
	for _, v := range s.Volumes {
		if _, ok := v["hostPath"]; ok {
			add("volume %v: hostPath volumes are not allowed", v["name"])
		}
	}

	var rootAllowed []string
	if a := p.Metadata.Annotations[RootContainersAnnotation]; a != "" {
		for _, name := range strings.Split(a, ",") {
			rootAllowed = append(rootAllowed, strings.TrimSpace(name))
		}
		if s.HostUsers == nil || *s.HostUsers {
			add("%s is set, so the pod must run in a user namespace (hostUsers: false)", RootContainersAnnotation)
		}
	}

	names := map[string]bool{}
	all := append(slices.Clone(s.InitContainers), s.Containers...)
	for _, c := range all {
		names[c.Name] = true
		where := "container " + c.Name
		if !pinnedImage.MatchString(c.Image) || !hasTagOrDigest(c.Image) {
			add("%s: image %q is not pinned: use registry/name:version (never latest) or a digest", where, c.Image)
		}
		if strings.HasSuffix(strings.SplitN(c.Image, "@", 2)[0], ":latest") {
			add("%s: image %q uses latest", where, c.Image)
		}
		if c.ImagePullPolicy == "Always" {
			add("%s: imagePullPolicy Always defeats pinning; use IfNotPresent", where)
		}
		if c.Resources.Requests["memory"] == nil || c.Resources.Requests["cpu"] == nil || c.Resources.Limits["memory"] == nil {
			add("%s: resources need cpu and memory requests and a memory limit", where)
		}
		sc := c.SecurityContext
		if sc.Privileged != nil && *sc.Privileged {
			add("%s: privileged containers are not allowed", where)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("%s: securityContext.allowPrivilegeEscalation must be false", where)
		}
		if !slices.Contains(sc.Capabilities.Drop, "ALL") {
			add("%s: securityContext.capabilities.drop must include ALL", where)
		}
		if !slices.Contains(rootAllowed, c.Name) {
			if !runsAsNonRoot(s.SecurityContext, sc) {
				add("%s: must run as non-root (runAsNonRoot: true or a non-zero runAsUser)", where)
			}
			if len(sc.Capabilities.Add) > 0 {
				add("%s: adds capabilities %v; only a container named in %s may", where, sc.Capabilities.Add, RootContainersAnnotation)
			}
		}
		for _, m := range c.VolumeMounts {
			if strings.Contains(m.MountPath, "docker.sock") {
				add("%s: no Docker socket", where)
			}
		}
	}
	for _, want := range []string{"jnlp", "build"} {
		if !names[want] {
			add("container %q is required (jnlp pinned here, not the plugin's default; build runs make)", want)
		}
	}
	return problems
}

// hasTagOrDigest reports whether image names a tag or a digest.
func hasTagOrDigest(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	return strings.Contains(image[strings.LastIndex(image, "/")+1:], ":")
}

// runsAsNonRoot reports whether a container is non-root given the pod's and
// its own security context (the container's settings win).
func runsAsNonRoot(podSC, c securityContext) bool {
	user := podSC.RunAsUser
	if c.RunAsUser != nil {
		user = c.RunAsUser
	}
	if user != nil && *user == 0 {
		return false
	}
	nonRoot := podSC.RunAsNonRoot
	if c.RunAsNonRoot != nil {
		nonRoot = c.RunAsNonRoot
	}
	return (nonRoot != nil && *nonRoot) || (user != nil && *user > 0)
}
