// Command jenkinscheck checks the Kubernetes pod templates that the
// Jenkinsfile's stages run in (deploy/jenkins/pods): each file is one valid
// YAML Pod, every image is pinned to a version from a named registry, and
// every container runs with least privilege (non-root unless the pod names
// it and runs in a user namespace, no privilege escalation, all
// capabilities dropped, no host namespaces or paths, no service account
// token, resources set, capabilities added only by a container allowed to
// run as root). Its tests also check the example IAM policies of the agents'
// roles (deploy/jenkins/iam): valid documents, no wildcard action allowed.
//
// The Jenkinsfile itself is checked by JenkinsCheck.groovy in this folder,
// which prints the pod templates it references; scripts/jenkins-check.sh
// runs both:
//
//	go run . deploy/jenkins/pods/go.yaml ...
//
// It is a module of its own so that the product's go.mod stays lean.
package main
